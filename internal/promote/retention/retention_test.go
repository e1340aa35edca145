package retention

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// synthetic is 200 versions released at irregular intervals over about
// three years, with a channel history: stable and staging point at two of
// them now, and a few were targets at various times in the past.
func synthetic() []Version {
	rng := rand.New(rand.NewSource(7))
	var vs []Version
	t := now.Add(-2 * time.Hour)
	for i := 199; i >= 0; i-- {
		vs = append(vs, Version{Name: fmt.Sprintf("1.%d.0", i), Created: t})
		t = t.Add(-time.Duration(rng.Intn(10*24)+1) * time.Hour)
	}
	vs[3].Channels = []string{"stable"}
	vs[3].LastTargeted = now
	vs[0].Channels = []string{"candidate", "staging"}
	vs[0].LastTargeted = now
	vs[20].LastTargeted = now.Add(-10 * Day)   // recent target: kept
	vs[60].LastTargeted = now.Add(-29 * Day)   // recent target: kept
	vs[90].LastTargeted = now.Add(-31 * Day)   // too long ago: by rule 4 only
	vs[150].LastTargeted = now.Add(-400 * Day) // long ago
	return vs
}

func TestPlanFollowsTheRule(t *testing.T) {
	p := Policy{KeepDays: 30, KeepLast: 10}
	vs := synthetic()
	ds := Plan(now, p, vs)
	if len(ds) != len(vs) {
		t.Fatalf("got %d decisions for %d versions", len(ds), len(vs))
	}
	for i := 1; i < len(ds); i++ {
		if ds[i].Created.After(ds[i-1].Created) {
			t.Fatalf("decisions not newest first at %d", i)
		}
	}
	cutoff := now.Add(-30 * Day)
	kept, deleted := 0, 0
	bucketKept := map[int][]Decision{}
	for i, d := range ds {
		want := ""
		switch {
		case len(d.Channels) > 0:
			want = ReasonChannel
		case !d.LastTargeted.IsZero() && !d.LastTargeted.Before(cutoff):
			want = ReasonRecentChannel
		case i < p.KeepLast:
			want = ReasonNewest
		}
		if want != "" && (!d.Keep || d.Reason != want) {
			t.Errorf("%s: keep=%v reason=%s, want kept for %s", d.Name, d.Keep, d.Reason, want)
		}
		if want == "" && d.Keep && d.Reason != ReasonThinned {
			t.Errorf("%s: kept for %s, which does not apply", d.Name, d.Reason)
		}
		if d.Bucket != Bucket(now, d.Created) {
			t.Errorf("%s: bucket %d, want %d", d.Name, d.Bucket, Bucket(now, d.Created))
		}
		if d.Keep {
			kept++
			bucketKept[d.Bucket] = append(bucketKept[d.Bucket], d)
		} else {
			deleted++
		}
	}
	// Every bucket with a version keeps at least one; a thinned survivor is
	// the only one thinned in its bucket, shares it with no channel target,
	// and is older than every deleted version there.
	for _, d := range ds {
		ks := bucketKept[d.Bucket]
		if len(ks) == 0 {
			t.Errorf("bucket %d (age %s) keeps nothing", d.Bucket, now.Sub(d.Created))
			continue
		}
		thinned, channel := 0, 0
		for _, k := range ks {
			switch k.Reason {
			case ReasonThinned:
				thinned++
			case ReasonChannel, ReasonRecentChannel:
				channel++
			}
		}
		if thinned > 1 || (thinned == 1 && channel > 0) {
			t.Errorf("bucket %d keeps %d thinned and %d channel versions", d.Bucket, thinned, channel)
		}
		if !d.Keep && thinned+channel == 0 {
			t.Errorf("bucket %d deletes %s but keeps no older representative", d.Bucket, d.Name)
		}
		for _, k := range ks {
			if k.Reason == ReasonThinned && !d.Keep && d.Created.Before(k.Created) {
				t.Errorf("bucket %d keeps %s but deletes the older %s", d.Bucket, k.Name, d.Name)
			}
		}
	}
	// Three years is 11 doublings of a day: the kept set is small.
	if kept > p.KeepLast+4+12 || deleted < 150 {
		t.Errorf("kept %d, deleted %d of 200: thinning is not sparse", kept, deleted)
	}
	oldest := ds[len(ds)-1]
	if !oldest.Keep {
		t.Errorf("the first version %s was thinned out", oldest.Name)
	}
	if d := find(ds, vs[90].Name); d.Reason == ReasonRecentChannel {
		t.Errorf("%s was a target 31 days ago, outside keep-days 30, yet kept as recent", d.Name)
	}
}

func find(ds []Decision, name string) Decision {
	for _, d := range ds {
		if d.Name == name {
			return d
		}
	}
	return Decision{}
}

// TestPlanOverTime releases one version a day for 400 days and prunes
// after each release, as a scheduled workflow would: the kept set stays
// logarithmic, a deleted version never comes back, the first survives.
func TestPlanOverTime(t *testing.T) {
	p := Policy{KeepDays: 14, KeepLast: 5}
	start := now.Add(-400 * Day)
	var alive []Version
	gone := map[string]bool{}
	for day := 0; day < 400; day++ {
		clock := start.Add(time.Duration(day) * Day)
		alive = append(alive, Version{Name: fmt.Sprintf("1.0.%d", day), Created: clock})
		for _, d := range Plan(clock.Add(time.Hour), p, alive) {
			if !d.Keep {
				gone[d.Name] = true
			}
		}
		var next []Version
		for _, v := range alive {
			if !gone[v.Name] {
				next = append(next, v)
			}
		}
		alive = next
		if max := p.KeepLast + 10; len(alive) > max {
			t.Fatalf("day %d: %d versions kept, want at most %d", day, len(alive), max)
		}
	}
	if alive[0].Name != "1.0.0" {
		t.Errorf("the first version was thinned out; oldest kept is %s", alive[0].Name)
	}
	if len(alive) < p.KeepLast+3 {
		t.Errorf("only %d versions kept after 400 days: old history is gone", len(alive))
	}
}

func TestBucket(t *testing.T) {
	for _, c := range []struct {
		age  time.Duration
		want int
	}{{0, 0}, {23 * time.Hour, 0}, {Day, 1}, {2 * Day, 2}, {3 * Day, 2}, {4 * Day, 3}, {1000 * Day, 10}, {-Day, 0}} {
		if got := Bucket(now, now.Add(-c.age)); got != c.want {
			t.Errorf("Bucket(age %s) = %d, want %d", c.age, got, c.want)
		}
	}
}
