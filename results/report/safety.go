package report

import (
	"fmt"
	"strings"

	"github.com/zkbench/zkbench/results"
)

// maxFindings bounds the findings a report lists per check; result.json
// keeps them all.
const maxFindings = 10

// SafetyLine is a one-line account of r's safety verdict, or "" if r was
// not checked: "safety: FAIL (lost-writes: 1 violation) over 5321
// operations on 8 keys".
func SafetyLine(r *results.Result) string {
	s := r.Safety
	if s == nil {
		return ""
	}
	var bad []string
	for _, c := range s.Checks {
		if c.Verdict != results.SafetyPass {
			bad = append(bad, fmt.Sprintf("%s %s: %d", c.Name, c.Verdict, len(c.Findings)))
		}
	}
	line := fmt.Sprintf("safety: %s over %d operations on %d keys", s.Verdict, s.Ops, len(s.Keys))
	if len(bad) > 0 {
		line += " (" + strings.Join(bad, "; ") + ")"
	}
	if s.Note != "" {
		line += "; " + s.Note
	}
	return line
}

// writeSafety writes the Safety section of a run's report: the verdict,
// every check, and the violations with the operations involved.
func writeSafety(b *strings.Builder, s *results.Safety) {
	if s == nil {
		return
	}
	b.WriteString("\n## Safety\n\n")
	fmt.Fprintf(b, "**%s**: every operation on %d keys (%s) was recorded, %d in all, warm-up included, and checked at the end.", s.Verdict, len(s.Keys), strings.Join(s.Keys, ", "), s.Ops)
	if s.Note != "" {
		fmt.Fprintf(b, " %s.", s.Note)
	}
	b.WriteString("\n\n| check | verdict | what was checked |\n| --- | --- | --- |\n")
	for _, c := range s.Checks {
		fmt.Fprintf(b, "| %s | %s | %s |\n", c.Name, c.Verdict, c.Summary)
	}
	for _, c := range s.Checks {
		if len(c.Findings) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n### %s: %s\n\n", c.Name, c.Verdict)
		for i, f := range c.Findings {
			if i == maxFindings {
				fmt.Fprintf(b, "- ... and %d more (result.json has them all)\n", len(c.Findings)-i)
				break
			}
			where := ""
			if f.From != 0 || f.To != 0 {
				where = fmt.Sprintf(" (%.2f s to %.2f s)", f.From.Seconds(), f.To.Seconds())
			}
			subject := ""
			if f.Key != "" {
				subject += "key " + f.Key + ": "
			}
			if f.Session != 0 {
				subject += fmt.Sprintf("session %#x: ", f.Session)
			}
			fmt.Fprintf(b, "- %s%s%s\n", subject, f.Message, where)
			if len(f.Ops) > 0 {
				b.WriteString("\n  ```\n")
				for _, o := range f.Ops {
					fmt.Fprintf(b, "  %s\n", o)
				}
				b.WriteString("  ```\n")
			}
		}
	}
	b.WriteString("\nOperation times in the listings count from the start of the warm-up; the spans in brackets from the start of the measured part, as on the graphs.\n")
}
