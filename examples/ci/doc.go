// Package ci holds zkbench's example GitHub Actions workflow
// (zkbench.yml), which README.md's "Regression tracking in CI" walks
// through, and its test, which lints it with actionlint. The package has
// no code of its own.
package ci
