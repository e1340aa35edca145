package report

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/model-release/model-release/internal/gate"
	"github.com/model-release/model-release/internal/metrics"
)

// limits say how much of each shrinkable section a rendering shows.
type limits struct {
	confusion bool // show the confusion matrix
	points    int  // training-curve points at most
	classes   int  // per-class rows at most
}

// The smallest a shrinkable section gets before the report is cut instead.
const (
	minPoints  = 10
	minClasses = 10
)

func fullLimits(s *Summary) limits {
	return limits{confusion: true, points: len(s.History), classes: len(s.Metrics.PerClass)}
}

// shrink takes one step off the largest shrinkable section of v. It returns
// false when nothing is left to shrink.
func shrink(v *view, lim limits) (limits, bool, error) {
	type cand struct {
		name string
		size int
	}
	var cands []cand
	measure := func(name string) error {
		var buf bytes.Buffer
		if err := templates.ExecuteTemplate(&buf, name, v); err != nil {
			return err
		}
		cands = append(cands, cand{name, utf8.RuneCount(buf.Bytes())})
		return nil
	}
	if v.Confusion != nil {
		if err := measure("confusion"); err != nil {
			return lim, false, err
		}
	}
	if v.Chart != nil && v.Chart.Count > minPoints {
		if err := measure("chart"); err != nil {
			return lim, false, err
		}
	}
	if len(v.Classes) > minClasses {
		if err := measure("perclass"); err != nil {
			return lim, false, err
		}
	}
	if len(cands) == 0 {
		return lim, false, nil
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].size > cands[j].size })
	switch cands[0].name {
	case "confusion":
		lim.confusion = false
	case "chart":
		lim.points = max(minPoints, v.Chart.Count/2)
	case "perclass":
		lim.classes = max(minClasses, len(v.Classes)/2)
	}
	return lim, true, nil
}

// view is what the templates see: every number already formatted, so the
// templates only lay out text.
type view struct {
	Kind    Kind
	Marker  string
	Title   string // "convnet v1.3.0"
	Model   string
	Version string
	Icon    string // verdict emoji
	Heading string // verdict in words
	Lead    string // one-sentence result
	Links   []string

	HasBaseline  bool
	BaselineName string
	BaselineNote string // why there is no comparison
	MetricRows   []metricRow

	Classes     []classRow
	ClassesNote string
	ClassFloor  string // "60.00%" when the gate has a per-class floor

	Gate *gateView

	Chart     *chartView
	ChartNote string

	Confusion     *confusionView
	ConfusionNote string
	TopConfusions []string

	Architecture string
	Parameters   string
	Dataset      string
	Split        string
	Samples      string
	ClassList    string
	NumClasses   int
	Margin       string // 95% interval half-width of the accuracy, in points
	WeakClasses  string
	Settings     []Setting
	Training     string // one line on the training run

	Repro reproView
	Image string // reference with digest when known
}

type metricRow struct{ Name, Value, Base, Change string }

type classRow struct{ Class, Accuracy, Base, Change, Precision, Support, Flag string }

type gateView struct {
	Verdict  string
	Line     string
	Rules    []ruleRow
	Warnings []string
}

type ruleRow struct{ Name, Check, Measured, Limit, Result, Note string }

type chartView struct {
	Epochs, Train, Val string // comma-separated series
	Count              int
	Final              string
}

type confusionView struct {
	Header []string
	Rows   [][]string // first cell is the true class
}

type reproView struct {
	Commands      []string
	Seed          string
	DatasetDigest string
	Commit        string
	Image         string
}

func buildView(kind Kind, s *Summary, lim limits) *view {
	m := s.Metrics
	v := &view{Kind: kind, Model: modelName(s), Version: s.Version}
	v.Title = strings.TrimSpace(v.Model + " " + s.Version)
	if kind == KindComment {
		v.Marker = Marker(v.Model, s.HeadSHA)
	}
	v.HasBaseline = s.Baseline != nil
	v.BaselineName = s.BaselineName
	if v.HasBaseline && v.BaselineName == "" {
		v.BaselineName = "baseline"
	}
	v.BaselineNote = baselineNote(s)

	v.verdict(s)
	v.Lead = lead(s)
	v.Links = links(s)
	v.MetricRows = metricRows(s)
	v.classes(s, lim)
	v.Gate = gateSection(s.Decision)

	if kind != KindRelease {
		v.chart(s.History, lim.points)
	}
	if kind == KindComment || kind == KindSummary {
		if lim.confusion {
			v.Confusion = confusion(m)
		} else if len(m.Confusion) > 0 {
			v.ConfusionNote = "The confusion matrix was left out to stay under GitHub's 65,536-character limit; it is in the metrics.json asset."
		}
	}
	v.TopConfusions = topConfusions(m, 3)

	v.Architecture = orDash(s.Architecture)
	if s.Architecture == "" && m.Architecture != "" {
		v.Architecture = m.Architecture
	}
	if s.Parameters > 0 {
		v.Parameters = thousands(s.Parameters)
	}
	v.Dataset = orDash(s.Dataset)
	v.Split = orDash(m.Split)
	v.Samples = thousands(m.Samples)
	v.ClassList = strings.Join(m.Classes, ", ")
	v.NumClasses = len(m.Classes)
	v.Margin = "—"
	if m.Samples > 0 {
		v.Margin = fmt.Sprintf("%.2f points", 196*math.Sqrt(m.Accuracy*(1-m.Accuracy)/float64(m.Samples)))
	}
	v.WeakClasses = weakClasses(m, 3)
	v.Settings = s.Settings
	v.Training = training(s.History)
	v.Image = imageRef(s)
	v.Repro = repro(s, v.Image)
	return v
}

func modelName(s *Summary) string {
	switch {
	case s.Model != "":
		return s.Model
	case s.Metrics.Architecture != "":
		return s.Metrics.Architecture
	}
	return "model"
}

func (v *view) verdict(s *Summary) {
	d := s.Decision
	switch {
	case d == nil:
		v.Icon, v.Heading = "📊", v.Title+": evaluation results"
	case d.Passed:
		v.Icon, v.Heading = "✅", v.Title+" passed the gate"
	default:
		v.Icon = "❌"
		v.Heading = fmt.Sprintf("%s failed the gate: %d of %d rules failed", v.Title, len(d.Failed()), len(d.Rules))
	}
}

func baselineNote(s *Summary) string {
	if s.Baseline != nil {
		return ""
	}
	if d := s.Decision; d != nil {
		switch d.Baseline.State {
		case gate.BaselineFirstRelease:
			return "First release: there is no earlier release to compare against."
		case gate.BaselineOff:
			return "Comparison with a baseline was turned off (baseline: none)."
		default:
			for _, r := range d.Rules {
				if r.Name == gate.RuleMaxRegression && r.Status == gate.Skipped {
					return "⚠️ " + upperFirst(r.Note) + "."
				}
			}
		}
	}
	return "No baseline to compare against."
}

func lead(s *Summary) string {
	m := s.Metrics
	var b strings.Builder
	fmt.Fprintf(&b, "Accuracy **%s** on %s %s images", pct(m.Accuracy), thousands(m.Samples), orWord(m.Split, "evaluation"))
	switch {
	case s.Baseline != nil:
		fmt.Fprintf(&b, " (%s against %s)", pointsDelta(m.Accuracy, s.Baseline.Accuracy), orWord(s.BaselineName, "the baseline"))
	case s.Decision != nil && s.Decision.Baseline.State == gate.BaselineFirstRelease:
		b.WriteString(" (first release)")
	}
	fmt.Fprintf(&b, "; top-3 accuracy %s.", pct(m.Top3Accuracy))
	return b.String()
}

func links(s *Summary) []string {
	var out []string
	if s.ReleaseURL != "" {
		out = append(out, fmt.Sprintf("[Release %s](%s)", orWord(s.Version, "page"), s.ReleaseURL))
	}
	if ref := imageRef(s); ref != "" {
		out = append(out, "Image `"+ref+"`")
	}
	if s.RunURL != "" {
		out = append(out, fmt.Sprintf("[Workflow run](%s)", s.RunURL))
	}
	if s.PR > 0 && s.Repository != "" {
		out = append(out, fmt.Sprintf("[PR #%d](https://github.com/%s/pull/%d)", s.PR, s.Repository, s.PR))
	}
	return out
}

func imageRef(s *Summary) string {
	switch {
	case s.Image == "":
		return ""
	case s.ImageDigest != "" && !strings.Contains(s.Image, "@"):
		repo := s.Image
		// A tag is dropped: the digest alone names the exact image.
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		return repo + "@" + s.ImageDigest
	}
	return s.Image
}

func metricRows(s *Summary) []metricRow {
	m, b := s.Metrics, s.Baseline
	rows := []metricRow{
		{Name: "Accuracy", Value: pct(m.Accuracy)},
		{Name: "Top-3 accuracy", Value: pct(m.Top3Accuracy)},
		{Name: "Mean loss (lower is better)", Value: fmt.Sprintf("%.4f", m.MeanLoss)},
		{Name: "Evaluated images", Value: thousands(m.Samples)},
	}
	if b != nil {
		rows[0].Base, rows[0].Change = pct(b.Accuracy), pointsDelta(m.Accuracy, b.Accuracy)
		rows[1].Base, rows[1].Change = pct(b.Top3Accuracy), pointsDelta(m.Top3Accuracy, b.Top3Accuracy)
		rows[2].Base, rows[2].Change = fmt.Sprintf("%.4f", b.MeanLoss), plainDelta(m.MeanLoss, b.MeanLoss, 4)
		rows[3].Base, rows[3].Change = thousands(b.Samples), ""
	}
	return rows
}

func (v *view) classes(s *Summary, lim limits) {
	m := s.Metrics
	floor := 0.0
	if d := s.Decision; d != nil && d.Policy.MinClassAccuracy > 0 {
		floor = d.Policy.MinClassAccuracy
		v.ClassFloor = pct(floor)
	}
	keep := make([]bool, len(m.PerClass))
	if lim.classes >= len(m.PerClass) {
		for i := range keep {
			keep[i] = true
		}
	} else {
		// Keep the weakest classes: they are the ones a reviewer must see.
		idx := make([]int, len(m.PerClass))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return m.PerClass[idx[a]].Recall < m.PerClass[idx[b]].Recall })
		for _, i := range idx[:lim.classes] {
			keep[i] = true
		}
		v.ClassesNote = fmt.Sprintf("Showing the %d weakest of %d classes to stay under GitHub's 65,536-character limit; every class is in the metrics.json asset.", lim.classes, len(m.PerClass))
	}
	for i, c := range m.PerClass {
		if !keep[i] {
			continue
		}
		row := classRow{Class: c.Class, Accuracy: pct(c.Recall), Precision: pct(c.Precision), Support: thousands(c.Support)}
		if s.Baseline != nil {
			if ba, ok := s.Baseline.ClassAccuracy(c.Class); ok {
				row.Base, row.Change = pct(ba), pointsDelta(c.Recall, ba)
			} else {
				row.Base, row.Change = "—", "new class"
			}
		}
		if floor > 0 && c.Recall < floor-1e-9 {
			row.Flag = "❌ below " + pct(floor)
		}
		v.Classes = append(v.Classes, row)
	}
}

func gateSection(d *gate.Decision) *gateView {
	if d == nil {
		return nil
	}
	g := &gateView{Verdict: d.Verdict(), Warnings: d.Warnings}
	if failed := d.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, r := range failed {
			names[i] = "`" + r.Name + "`"
		}
		g.Line = fmt.Sprintf("❌ **Failed**: %d of %d rules failed (%s).", len(failed), len(d.Rules), strings.Join(names, ", "))
	} else {
		g.Line = fmt.Sprintf("✅ **Passed**: no rule failed (%d checked).", len(d.Rules))
	}
	for _, r := range d.Rules {
		icon := map[gate.Status]string{gate.Pass: "✅ pass", gate.Fail: "❌ fail", gate.Skipped: "⚠️ skipped"}[r.Status]
		g.Rules = append(g.Rules, ruleRow{Name: r.Name, Check: r.Check, Measured: r.MeasuredText(), Limit: r.LimitText(), Result: icon, Note: r.Note})
	}
	return g
}

func (v *view) chart(h []metrics.Epoch, points int) {
	if len(h) == 0 {
		return
	}
	idx := sample(len(h), points)
	c := &chartView{Count: len(idx)}
	var ep, tr, va []string
	for _, i := range idx {
		ep = append(ep, strconv.Itoa(h[i].Epoch))
		tr = append(tr, strconv.FormatFloat(round1(100*h[i].TrainAccuracy), 'f', 1, 64))
		va = append(va, strconv.FormatFloat(round1(100*h[i].ValAccuracy), 'f', 1, 64))
	}
	c.Epochs, c.Train, c.Val = strings.Join(ep, ", "), strings.Join(tr, ", "), strings.Join(va, ", ")
	last := h[len(h)-1]
	c.Final = fmt.Sprintf("Epoch %d of %d: train accuracy %s, validation accuracy %s, train loss %.4f, validation loss %.4f.",
		last.Epoch, len(h), pct(last.TrainAccuracy), pct(last.ValAccuracy), last.TrainLoss, last.ValLoss)
	v.Chart = c
	if len(idx) < len(h) {
		v.ChartNote = fmt.Sprintf("The chart shows %d of %d epochs, evenly spaced, to stay under GitHub's 65,536-character limit.", len(idx), len(h))
	}
}

// sample picks at most n indexes of 0..total-1, evenly spaced, keeping the
// first and the last.
func sample(total, n int) []int {
	n = max(min(n, total), min(total, 2))
	out := make([]int, 0, n)
	for k := 0; k < n; k++ {
		i := k
		if n < total {
			i = int(math.Round(float64(k) * float64(total-1) / float64(n-1)))
		}
		if len(out) == 0 || out[len(out)-1] != i {
			out = append(out, i)
		}
	}
	return out
}

func confusion(m *metrics.Metrics) *confusionView {
	if len(m.Confusion) == 0 {
		return nil
	}
	c := &confusionView{}
	name := func(i int) string {
		if i < len(m.Classes) {
			return m.Classes[i]
		}
		return strconv.Itoa(i)
	}
	for j := range m.Confusion[0] {
		c.Header = append(c.Header, name(j))
	}
	for i, row := range m.Confusion {
		cells := []string{"**" + cell(name(i)) + "**"}
		for j, n := range row {
			if i == j {
				cells = append(cells, "**"+strconv.Itoa(n)+"**")
			} else {
				cells = append(cells, strconv.Itoa(n))
			}
		}
		c.Rows = append(c.Rows, cells)
	}
	return c
}

// topConfusions names the n most frequent mistakes (true → predicted).
func topConfusions(m *metrics.Metrics, n int) []string {
	type pair struct{ i, j, count, total int }
	var pairs []pair
	for i, row := range m.Confusion {
		total := 0
		for _, c := range row {
			total += c
		}
		for j, c := range row {
			if i != j && c > 0 {
				pairs = append(pairs, pair{i, j, c, total})
			}
		}
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].count > pairs[b].count })
	var out []string
	for _, p := range pairs[:min(n, len(pairs))] {
		if p.i >= len(m.Classes) || p.j >= len(m.Classes) {
			continue
		}
		out = append(out, fmt.Sprintf("%s taken for %s: %s images (%s of %s)",
			m.Classes[p.i], m.Classes[p.j], thousands(p.count), pct(float64(p.count)/float64(p.total)), m.Classes[p.i]))
	}
	return out
}

// weakClasses names the n classes with the lowest accuracy.
func weakClasses(m *metrics.Metrics, n int) string {
	cs := append([]metrics.ClassMetrics(nil), m.PerClass...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Recall < cs[j].Recall })
	var out []string
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, fmt.Sprintf("%s (%s)", c.Class, pct(c.Recall)))
	}
	return strings.Join(out, ", ")
}

func training(h []metrics.Epoch) string {
	if len(h) == 0 {
		return ""
	}
	best := 0
	var secs float64
	for i, e := range h {
		if e.ValAccuracy > h[best].ValAccuracy {
			best = i
		}
		secs += e.Seconds
	}
	return fmt.Sprintf("%d epochs; best validation accuracy %s at epoch %d; %.0f s of training.",
		len(h), pct(h[best].ValAccuracy), h[best].Epoch, secs)
}

func repro(s *Summary, image string) reproView {
	r := reproView{Seed: strconv.FormatInt(s.Seed, 10), DatasetDigest: orDash(s.DatasetDigest), Commit: orDash(s.Commit), Image: image}
	if s.Commit != "" {
		r.Commands = append(r.Commands, "git checkout "+s.Commit)
	}
	cmd := []string{"model-release", "train"}
	hasSeed := false
	for _, st := range s.Settings {
		hasSeed = hasSeed || st.Name == "seed"
		cmd = append(cmd, "--"+st.Name+"="+shellQuote(st.Value))
	}
	if !hasSeed {
		cmd = append(cmd, "--seed="+r.Seed)
	}
	r.Commands = append(r.Commands, strings.Join(cmd, " "))
	return r
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '.' || r == '_' || r == '/' || r == ':' || r == ',' || r == '=' || r == '+' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func pct(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }

// pointsDelta shows a change of a 0..1 value in accuracy points with an
// arrow for its direction.
func pointsDelta(cur, base float64) string {
	d := 100 * (cur - base)
	switch {
	case math.Abs(d) < 0.005:
		return "= 0.00 pts"
	case d > 0:
		return fmt.Sprintf("▲ +%.2f pts", d)
	}
	return fmt.Sprintf("▼ %.2f pts", d)
}

func plainDelta(cur, base float64, prec int) string {
	d := cur - base
	switch {
	case math.Abs(d) < 0.5*math.Pow10(-prec):
		return "= 0"
	case d > 0:
		return fmt.Sprintf("▲ +%.*f", prec, d)
	}
	return fmt.Sprintf("▼ %.*f", prec, d)
}

func round1(x float64) float64 { return math.Round(10*x) / 10 }

func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func orDash(s string) string { return orWord(s, "—") }

func orWord(s, word string) string {
	if s == "" {
		return word
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
