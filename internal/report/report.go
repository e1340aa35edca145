// Package report renders what a run of model-release tells people: the
// sticky PR comment, the Actions job summary, the GitHub Release notes and
// the model card. All four come from one Summary value through text/template
// files embedded in the binary; the package does no I/O.
//
// Markdown meant for GitHub's API (comment, job summary / check run, release
// notes) is kept under MaxChars by shrinking the largest optional section
// first (confusion matrix, training-curve points, per-class table), and the
// text says what was left out.
package report

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/model-release/model-release/internal/gate"
	"github.com/model-release/model-release/internal/metrics"
)

// MaxChars is the largest body GitHub accepts for an issue comment and a
// check-run summary (65,536 characters, minus one for safety).
const MaxChars = 65535

// Kind names one rendering.
type Kind string

// The renderings of a Summary.
const (
	KindComment Kind = "comment" // sticky PR comment, starts with Marker
	KindSummary Kind = "summary" // Actions job summary and check-run text
	KindRelease Kind = "release" // GitHub Release notes
	KindCard    Kind = "card"    // MODEL_CARD.md
)

// Kinds lists every rendering, for flag help and validation.
func Kinds() []Kind { return []Kind{KindComment, KindSummary, KindRelease, KindCard} }

// Setting is one training option, rendered as a flag of the command that
// reproduces the model.
type Setting struct {
	Name  string // option name, e.g. "epochs"
	Value string
}

// Summary is everything a report can show. Only Metrics is required; the
// rest is shown when set.
type Summary struct {
	Model        string // short name used in the marker and headline, e.g. "convnet"
	Architecture string // longer description, e.g. "convnet: 3 conv blocks + linear head"
	Parameters   int    // trainable parameters, 0 when unknown
	Version      string // e.g. "v1.3.0"

	Metrics      *metrics.Metrics
	Baseline     *metrics.Metrics // nil: no comparison
	BaselineName string           // e.g. "v1.2.0"
	Decision     *gate.Decision   // nil: gate not run

	History       []metrics.Epoch
	Dataset       string // what the data was, e.g. "CIFAR-10 (canonical download)"
	DatasetDigest string
	Seed          int64
	Commit        string    // commit the model was trained from
	Settings      []Setting // training options that reproduce the run

	Image       string // image repository or reference, e.g. ghcr.io/o/r
	ImageDigest string // sha256:...
	ReleaseURL  string
	RunURL      string
	Repository  string // owner/name
	PR          int
	HeadSHA     string // head commit of the PR, named in the comment marker
}

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("report").Funcs(template.FuncMap{
	"cell": cell,
	"join": strings.Join,
}).ParseFS(templateFS, "templates/*.tmpl"))

// Render produces the markdown of one kind. Comment, summary and release
// notes stay within MaxChars.
func Render(kind Kind, s *Summary) (string, error) {
	if s == nil || s.Metrics == nil {
		return "", fmt.Errorf("rendering %s: the summary has no metrics: evaluate the model first", kind)
	}
	var name string
	switch kind {
	case KindComment, KindSummary:
		name = "report.md.tmpl"
	case KindRelease:
		name = "release.md.tmpl"
	case KindCard:
		name = "card.md.tmpl"
	default:
		return "", fmt.Errorf("unknown report format %q: want one of comment, summary, release, card", kind)
	}
	lim := fullLimits(s)
	for {
		v := buildView(kind, s, lim)
		out, err := execute(name, v)
		if err != nil {
			return "", fmt.Errorf("rendering %s: %w", kind, err)
		}
		if kind == KindCard || utf8.RuneCountInString(out) <= MaxChars {
			return out, nil
		}
		next, ok, err := shrink(v, lim)
		if err != nil {
			return "", fmt.Errorf("rendering %s: %w", kind, err)
		}
		if !ok {
			return hardCut(out), nil
		}
		lim = next
	}
}

// Comment renders the sticky PR comment (marker first).
func Comment(s *Summary) (string, error) { return Render(KindComment, s) }

// JobSummary renders the Actions job summary: the comment without marker.
func JobSummary(s *Summary) (string, error) { return Render(KindSummary, s) }

// ReleaseNotes renders the body of the GitHub Release.
func ReleaseNotes(s *Summary) (string, error) { return Render(KindRelease, s) }

// ModelCard renders MODEL_CARD.md.
func ModelCard(s *Summary) (string, error) { return Render(KindCard, s) }

func execute(name string, v *view) (string, error) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, v); err != nil {
		return "", err
	}
	return tidy(buf.String()), nil
}

var blankRuns = regexp.MustCompile(`\n{3,}`)

// tidy collapses the blank lines that template conditionals leave behind.
func tidy(s string) string {
	return strings.TrimSpace(blankRuns.ReplaceAllString(s, "\n\n")) + "\n"
}

const truncatedNote = "\n\n_… the report was cut here to stay under GitHub's 65,536-character limit; the full results are in the metrics.json asset._\n"

// hardCut is the last resort when even the smallest sections do not fit.
func hardCut(s string) string {
	const fence = "\n```"
	keep := MaxChars - utf8.RuneCountInString(truncatedNote) - len(fence)
	r := []rune(s)
	if len(r) <= keep {
		return s
	}
	cut := string(r[:keep])
	if i := strings.LastIndex(cut, "\n"); i > 0 {
		cut = cut[:i]
	}
	// Close an open code fence so the note is not swallowed by it.
	if strings.Count(cut, "```")%2 == 1 {
		cut += fence
	}
	return cut + truncatedNote
}

// markerRe matches the hidden first line of the sticky comment.
var markerRe = regexp.MustCompile(`<!-- model-release:comment model=(\S+) sha=([0-9a-f]*) -->`)

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._/-]`)

// Marker is the hidden HTML comment that starts the PR comment, naming the
// model and the head commit so that a later run finds and updates it.
func Marker(model, sha string) string {
	model = unsafeName.ReplaceAllString(model, "-")
	if model == "" {
		model = "model"
	}
	return fmt.Sprintf("<!-- model-release:comment model=%s sha=%s -->", model, strings.ToLower(sha))
}

// ParseMarker finds the marker in a comment body. sha is "" when the run
// that wrote it did not know its head commit.
func ParseMarker(body string) (model, sha string, ok bool) {
	m := markerRe.FindStringSubmatch(body)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// cell makes a value safe inside a markdown table cell.
func cell(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "\r", "", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
