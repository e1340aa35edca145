package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// bar draws a one-line progress bar with images/s and ETA on a terminal.
// It is only used when Options.Progress is set (a TTY outside CI); CI logs
// get one plain line per epoch instead.
type bar struct {
	w     io.Writer
	last  time.Time
	drawn bool
}

func (b *bar) update(epoch, epochs, done, total int, imgPerSec, loss float64) {
	if b == nil || b.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(b.last) < 200*time.Millisecond && done < total {
		return
	}
	b.last = now
	const width = 30
	fill := width * done / max(total, 1)
	eta := "?"
	if imgPerSec > 0 {
		eta = time.Duration(float64(total-done) / imgPerSec * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(b.w, "\repoch %d/%d [%s%s] %d/%d %4.0f img/s ETA %s loss %.3f\033[K",
		epoch, epochs, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total, imgPerSec, eta, loss)
	b.drawn = true
}

// clear erases the bar so a log line can take its place.
func (b *bar) clear() {
	if b == nil || b.w == nil || !b.drawn {
		return
	}
	fmt.Fprint(b.w, "\r\033[K")
	b.drawn = false
}
