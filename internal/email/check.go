package email

import (
	"context"

	"github.com/beckonhq/beckon/internal/email/address"
)

// Check validates an address someone typed against workspace wsID's policy (E1): syntax,
// the allow and block lists, disposable domains, personal domains when the workspace wants
// business email only, and the MX look-up when it asks for one. Every path where an address
// enters Beckon uses it: the API's validate, the messenger, forms. The result says why an
// address is refused; err is only for a failure to read the policy.
func (s *Store) Check(ctx context.Context, wsID, input string) (address.Result, error) {
	p, err := s.Policy(ctx, wsID)
	if err != nil {
		return address.Result{}, err
	}
	return s.v.Check(ctx, input, p.Rules()), nil
}

// CheckWith is Check with a policy given (the console's "try an address" before saving).
func (s *Store) CheckWith(ctx context.Context, p Policy, input string) address.Result {
	return s.v.Check(ctx, input, p.Rules())
}
