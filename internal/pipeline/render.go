package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// Marker starts the sticky PR comment so a re-run finds and edits it: the
// model's name and the head commit, in the form the GitHub client and the
// report package read.
func Marker(model, sha string) string {
	if model == "" {
		model = "model"
	}
	return fmt.Sprintf("<!-- model-release:comment model=%s sha=%s -->", model, strings.ToLower(sha))
}

// ModelName names the model in the comment marker: its architecture.
func ModelName(st *State) string {
	if st.Metrics != nil && st.Metrics.Architecture != "" {
		return st.Metrics.Architecture
	}
	return st.Config.Architecture
}

// PlainRenderer writes short reports from the State alone; the report
// package's richer renderer replaces it when wired.
type PlainRenderer struct{}

// Render implements Renderer.
func (PlainRenderer) Render(st *State) (Reports, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "## model-release: %s\n\n", verdict(st))
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, v)
		}
	}
	row("Mode", string(st.Mode))
	if st.Metrics != nil {
		row("Accuracy", fmt.Sprintf("%.2f%%", 100*st.Metrics.Accuracy))
		row("Top-3 accuracy", fmt.Sprintf("%.2f%%", 100*st.Metrics.Top3Accuracy))
		row("Test images", fmt.Sprint(st.Metrics.Samples))
	}
	if st.Baseline != nil {
		row("Baseline", fmt.Sprintf("%.2f%% (%s)", 100*st.Baseline.Accuracy, st.BaselineName))
	}
	row("Version", st.Tag)
	row("Release", st.ReleaseURL)
	if st.Image != "" {
		row("Image", "`"+st.Image+"`")
	}
	if st.Gate != nil && len(st.Gate.Reasons) > 0 {
		b.WriteString("\n**Gate:**\n\n")
		for _, r := range st.Gate.Reasons {
			fmt.Fprintf(&b, "- %s\n", r)
		}
	}
	b.WriteString(Notes(st))
	body := b.String()
	notes := body
	if st.Metrics != nil {
		notes = fmt.Sprintf("Model %s: accuracy %.2f%% on %d test images.\n\n%s", st.Tag, 100*st.Metrics.Accuracy, st.Metrics.Samples, body)
	}
	return Reports{Summary: body, Comment: Marker(ModelName(st), st.SHA()) + "\n" + body, ReleaseNotes: notes}, nil
}

// Notes is what a report adds about the run itself: a fork's read-only
// token, where the run stopped, and the stages that were skipped.
func Notes(st *State) string {
	var b strings.Builder
	if st.Event != nil && st.Event.IsFork() {
		fmt.Fprintf(&b, "\nPull request from fork %s: its token is read-only, so no comment, status or image is published; the results are here.\n", st.Event.HeadRepo)
	}
	if st.Failure != nil {
		fmt.Fprintf(&b, "\n**Stopped at %s:** %s\n", st.FailedStage, st.Failure)
	}
	if len(st.Skipped) > 0 {
		b.WriteString("\n<details><summary>Skipped stages</summary>\n\n")
		for _, s := range st.Skipped {
			fmt.Fprintf(&b, "- %s: %s\n", s.Stage, s.Reason)
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

func verdict(st *State) string {
	switch {
	case st.Gate != nil && !st.Gate.Passed:
		return "❌ gate failed"
	case st.Failure != nil:
		return "⚠️ error"
	case st.Gate != nil:
		return "✅ gate passed"
	}
	return "not gated"
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
