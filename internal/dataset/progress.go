package dataset

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// progress reports a download: a redrawn bar on a terminal, or a log line
// every 10% elsewhere (CI logs must not fill with carriage returns).
type progress struct {
	w           io.Writer // bar target; nil: log lines
	log         *slog.Logger
	url         string
	n, total    int64
	start, last time.Time
	lastDecile  int64
}

func newProgress(o *options, url string, have, total int64) *progress {
	p := &progress{log: o.log, url: url, n: have, total: total, start: time.Now(), lastDecile: -1}
	if o.progress != nil && isTerminal(o) {
		p.w = o.progress
	}
	if total > 0 {
		p.lastDecile = have * 10 / total
	}
	return p
}

// isTerminal reports whether the progress writer is an interactive
// terminal outside CI.
func isTerminal(o *options) bool {
	if o.tty != nil {
		return *o.tty
	}
	if v, _ := o.lookupEnv("GITHUB_ACTIONS"); v == "true" {
		return false
	}
	f, ok := o.progress.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	now := time.Now()
	switch {
	case p.w != nil:
		if now.Sub(p.last) >= 100*time.Millisecond {
			p.last = now
			p.draw(now)
		}
	case p.total > 0:
		if d := p.n * 10 / p.total; d > p.lastDecile && d < 10 {
			p.lastDecile = d
			p.log.Info("downloading", "done", fmt.Sprintf("%d%%", d*10), "bytes", p.n, "of", p.total)
		}
	}
	return len(b), nil
}

func (p *progress) draw(now time.Time) {
	const width = 30
	rate := float64(p.n) / max(now.Sub(p.start).Seconds(), 1e-3) / 1e6
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%.1f MB  %.1f MB/s ", float64(p.n)/1e6, rate)
		return
	}
	frac := min(float64(p.n)/float64(p.total), 1)
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r%3.0f%% [%s%s] %.1f/%.1f MB  %.1f MB/s ", frac*100,
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), float64(p.n)/1e6, float64(p.total)/1e6, rate)
}

func (p *progress) done() {
	if p.w != nil {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
	}
}
