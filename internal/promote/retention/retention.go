// Package retention decides which model versions to keep: pure logic over
// versions, their channel history and a clock, so every rule can be tested
// without a registry.
//
// A version is kept when any of these holds, checked in this order (the
// first one that holds is its Reason):
//
//  1. a channel points at it now (ReasonChannel);
//  2. a channel pointed at it at some moment within the last KeepDays days
//     (ReasonRecentChannel): a rollback target stays available;
//  3. it is among the KeepLast newest versions (ReasonNewest);
//  4. it is the oldest remaining version of its age bucket (ReasonThinned).
//     Buckets double in width: ages [0,1) days, [1,2), [2,4), [4,8), ... so
//     recent history stays dense and old history sparse, roughly one
//     version per doubling of age, like backup rotation. A bucket that
//     already holds a version kept by rules 1-2 needs no other. Keeping the
//     oldest of a bucket (rather than the newest) means the first version
//     ever released is never thinned out, and a survivor stays until an
//     older one shares its bucket.
//
// Everything else is deleted.
package retention

import (
	"math/bits"
	"sort"
	"time"
)

// Reasons a version is kept or deleted.
const (
	ReasonChannel       = "channel"
	ReasonRecentChannel = "recent-channel"
	ReasonNewest        = "newest"
	ReasonThinned       = "thinned"
	ReasonDelete        = "delete"
)

// Day is the unit of ages and KeepDays.
const Day = 24 * time.Hour

// Policy is the retention rule's knobs.
type Policy struct {
	KeepDays int // channel targets of the last KeepDays days are kept
	KeepLast int // the KeepLast newest versions are kept
}

// Version is one released model version as retention sees it.
type Version struct {
	Name    string    // e.g. "1.2.0"
	Created time.Time // release time
	// Channels are the channels that point at it now.
	Channels []string
	// LastTargeted is the last moment a channel pointed at it: when it was
	// moved away, or now when it is a target. Zero: never a target.
	LastTargeted time.Time
}

// Decision says whether a version is kept and why.
type Decision struct {
	Version
	Keep   bool
	Reason string
	Bucket int // age bucket (bits.Len of age in whole days)
}

// Bucket is the age bucket of a version created at created: 0 for less than
// a day, then b for ages in [2^(b-1), 2^b) days.
func Bucket(now, created time.Time) int {
	age := now.Sub(created)
	if age < 0 {
		age = 0
	}
	return bits.Len64(uint64(age / Day))
}

// Plan decides every version, newest first.
func Plan(now time.Time, p Policy, versions []Version) []Decision {
	ds := make([]Decision, len(versions))
	for i, v := range versions {
		ds[i] = Decision{Version: v, Bucket: Bucket(now, v.Created)}
	}
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].Created.Equal(ds[j].Created) {
			return ds[i].Created.After(ds[j].Created)
		}
		return ds[i].Name > ds[j].Name
	})
	cutoff := now.Add(-time.Duration(p.KeepDays) * Day)
	// Buckets already holding a channel-kept version. The newest versions do
	// not count: they pass through the young buckets continuously, and
	// letting them cover a bucket would delete each version the day it
	// stops being among the newest.
	covered := map[int]bool{}
	for i := range ds {
		d := &ds[i]
		switch {
		case len(d.Channels) > 0:
			d.Keep, d.Reason = true, ReasonChannel
		case !d.LastTargeted.IsZero() && !d.LastTargeted.Before(cutoff):
			d.Keep, d.Reason = true, ReasonRecentChannel
		case i < p.KeepLast:
			d.Keep, d.Reason = true, ReasonNewest
		}
		if d.Keep && d.Reason != ReasonNewest {
			covered[d.Bucket] = true
		}
	}
	// Oldest first, so the first undecided version of a bucket is its oldest.
	for i := len(ds) - 1; i >= 0; i-- {
		d := &ds[i]
		if d.Keep {
			continue
		}
		if covered[d.Bucket] {
			d.Reason = ReasonDelete
			continue
		}
		covered[d.Bucket] = true
		d.Keep, d.Reason = true, ReasonThinned
	}
	return ds
}
