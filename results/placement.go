package results

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Label names the ensemble's implementation for titles, legends and
// tables: Implementation, followed for a mixed ensemble by which server
// ids ran which implementation, "mixed (go 1,2,3; java 4,5)".
func (e Ensemble) Label() string {
	if len(e.Placement) == 0 {
		return e.Implementation
	}
	byImpl := map[string][]string{}
	for _, id := range slices.Sorted(maps.Keys(e.Placement)) {
		impl := e.Placement[id]
		byImpl[impl] = append(byImpl[impl], fmt.Sprint(id))
	}
	var parts []string
	for _, impl := range slices.Sorted(maps.Keys(byImpl)) {
		parts = append(parts, impl+" "+strings.Join(byImpl[impl], ","))
	}
	return fmt.Sprintf("%s (%s)", e.Implementation, strings.Join(parts, "; "))
}
