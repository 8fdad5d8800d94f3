package identity_test

import (
	"context"
	"sync"
	"testing"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/identity"
	"github.com/beckonhq/beckon/internal/testkit"
)

// TestTokenCannotMintStrongerToken: a token holding only tokens:write cannot create a token with
// scopes it lacks, even when its user's role grants them.
func TestTokenCannotMintStrongerToken(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		_, weak, err := f.svc.CreateToken(ctx, &identity.Principal{User: f.admin}, identity.TokenInput{Name: "weak", Scopes: []string{"tokens:write"}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.AuthenticateToken(ctx, weak)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.CreateToken(ctx, p, identity.TokenInput{Name: "strong", Scopes: []string{"users:write"}}); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("token minted a stronger token: %v", err)
		}
		if _, _, err := f.svc.CreateToken(ctx, p, identity.TokenInput{Name: "same", Scopes: []string{"tokens:read"}}); err != nil {
			t.Fatalf("token could not mint a token within its scopes: %v", err)
		}
	})
}

// TestParallelGuessesAreCounted: guesses sent at once are counted like guesses sent one by one.
func TestParallelGuessesAreCounted(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		var wg sync.WaitGroup
		results := make(chan error, 16)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := f.svc.Login(ctx, identity.LoginInput{Email: "ada@acme.example", Password: "wrong guess"})
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		checked := 0
		for err := range results {
			switch errs.KindOf(err) {
			case errs.Unauthenticated:
				checked++
			case errs.TooMany:
			default:
				t.Errorf("unexpected %v", err)
			}
		}
		if checked != 5 {
			t.Fatalf("%d of 16 parallel guesses were checked; the lockout allows 5", checked)
		}
		if _, _, err := f.svc.Login(ctx, identity.LoginInput{Email: "ada@acme.example", Password: "correct horse battery"}); !errs.Is(err, errs.TooMany) {
			t.Fatalf("not locked after parallel guesses: %v", err)
		}
	})
}

// TestLockoutSaysNothingOfAccounts: an address with no account locks after the same number of
// attempts, with the same message, as one with an account.
func TestLockoutSaysNothingOfAccounts(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		seq := func(email string) []string {
			var out []string
			for i := 0; i < 7; i++ {
				_, _, err := f.svc.Login(ctx, identity.LoginInput{Email: email, Password: "wrong guess"})
				e := errs.As(err)
				out = append(out, e.Kind.String()+": "+e.Message)
			}
			return out
		}
		real, ghost := seq("ada@acme.example"), seq("nobody@acme.example")
		for i := range real {
			if real[i] != ghost[i] {
				t.Fatalf("attempt %d differs: account %q, no account %q", i+1, real[i], ghost[i])
			}
		}
		if real[5][:len("too_many")] != "too_many" {
			t.Fatalf("sixth attempt not locked: %q", real[5])
		}
	})
}

// TestLastAdminRace: two admins deactivating each other at the same moment leave one admin.
func TestLastAdminRace(t *testing.T) {
	testkit.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := setup(t, d)
		second, err := f.svc.CreateUser(ctx, d, identity.NewUser{WorkspaceID: f.ws.ID, Email: "boss@acme.example", Role: identity.RoleAdmin, Password: "boss password"})
		if err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 10; round++ {
			var wg sync.WaitGroup
			var a, b error
			wg.Add(2)
			go func() { defer wg.Done(); _, a = f.svc.Deactivate(ctx, f.admin, second.ID) }()
			go func() { defer wg.Done(); _, b = f.svc.Deactivate(ctx, second, f.admin.ID) }()
			wg.Wait()
			users, _ := f.svc.ListUsers(ctx, f.ws.ID)
			admins := 0
			for _, u := range users {
				if u.Role == identity.RoleAdmin && u.Active {
					admins++
				}
			}
			if admins != 1 || (a == nil) == (b == nil) {
				t.Fatalf("round %d: %d active admins left (errors %v / %v)", round, admins, a, b)
			}
			// Bring the deactivated one back for the next round.
			if a == nil {
				f.svc.Reactivate(ctx, f.admin, second.ID)
			} else {
				f.svc.Reactivate(ctx, second, f.admin.ID)
			}
		}
	})
}
