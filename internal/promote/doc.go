// Package promote moves release channels (candidate, staging, stable, ...)
// between model versions, keeps the append-only record of those moves, and
// plans the pruning of old versions.
//
// A channel is an image tag that points at a version's manifest digest; a
// move re-tags the existing digest (nothing is pushed again). Promoting to
// the last, production channel also marks the version's GitHub Release as
// latest. Each move is recorded: channel, version, digest, the version it
// replaced, who, when, why, and whether the checks were forced.
//
// Where the history lives: a channels-N.json asset on a dedicated GitHub
// Release, tag model-release-channels, published as a prerelease and never
// latest (HistoryTag). We chose it over annotated git tags such as
// model#stable#N because:
//   - one download returns the whole history; tags would need one API call
//     per move to read their annotations;
//   - the record is structured JSON (digests, reasons, forced) rather than
//     text parsed out of tag messages;
//   - it adds a single non-semver tag to the repository instead of one per
//     move, so version computation, which reads the tag list, is not
//     disturbed, and the tag list stays readable;
//   - it lives with the model's releases, under the same token permission
//     (contents: write) the release step already needs.
//
// The history is append-only by convention: Save writes the loaded moves
// plus new ones, and refuses when the stored history changed since it was
// loaded (two concurrent promotions); run promotions in one Actions
// concurrency group.
//
// A version may be promoted only when its gate and its deployment check
// passed, read from the release asset release.json (Record); --force
// overrides that, with a reason that is recorded.
package promote
