package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// ErrReadOnly says the token may read the repository but not write to it.
var ErrReadOnly = errors.New("the token cannot write to the repository")

// CheckWrite fails in seconds when the token cannot create releases in the
// repository: bad credentials, a repository it cannot see, or (for tokens
// whose permissions GitHub reports) no push permission. GitHub does not
// report the permissions of the Actions GITHUB_TOKEN; then only the
// repository's visibility is checked, and known is false.
func (c *Client) CheckWrite(ctx context.Context) (known bool, err error) {
	r, _, err := c.gh.Repositories.Get(ctx, c.owner, c.repo)
	switch {
	case statusOf(err) == http.StatusUnauthorized:
		return false, fmt.Errorf("reading repository %s: the token is not valid (bad credentials): check github-token: %w", c.Repository(), err)
	case isNotFound(err):
		return false, fmt.Errorf("repository %s is not visible to the token: check the repository option and the token's access: %w", c.Repository(), ErrNotFound)
	case err != nil:
		return false, fmt.Errorf("reading repository %s: %w", c.Repository(), err)
	}
	perms := r.Permissions // GetPermissions hides a missing field behind an empty map
	if len(perms) == 0 {
		return false, nil
	}
	if !perms["push"] && !perms["admin"] && !perms["maintain"] {
		return true, fmt.Errorf("%w %s (no push permission): releases need contents: write, e.g. `permissions: contents: write` in the workflow", ErrReadOnly, c.Repository())
	}
	return true, nil
}
