package email

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/beckonhq/beckon/internal/db"
	"github.com/beckonhq/beckon/internal/email/address"
	"github.com/beckonhq/beckon/internal/errs"
)

// MaxListEntries is the most entries each of a workspace's four lists may hold.
const MaxListEntries = 10000

// MaxDomainBurst bounds Policy.DomainBurst (the burst counter remembers one more address than this
// per domain).
const MaxDomainBurst = 200

// Policy is a workspace's address policy (E1, E4): which addresses the messenger, forms and the
// API accept. The zero Policy accepts every syntactically valid, non-disposable address.
type Policy struct {
	// BusinessOnly refuses personal addresses (free-mail providers) where a form asks for a
	// business email.
	BusinessOnly bool `json:"business_only"`
	// CheckMX refuses addresses whose domain has no mail server (no MX and no A/AAAA, or a null
	// MX). A look-up that times out accepts.
	CheckMX bool `json:"check_mx"`
	// DomainBurst is the most distinct addresses of one domain accepted in ten minutes, unless
	// the domain is allowed or a personal-mail provider; 0 means no limit (E4).
	DomainBurst int `json:"domain_burst"`
	// The lists: domains ("example.com", matching its subdomains too) and whole addresses.
	// Address entries beat domain entries; in a tie, block beats allow.
	AllowDomains   []string `json:"allow_domains"`
	BlockDomains   []string `json:"block_domains"`
	AllowAddresses []string `json:"allow_addresses"`
	BlockAddresses []string `json:"block_addresses"`
	// LeadAlertsTo are the addresses emailed (template "lead") when a visitor leaves their email
	// address in a conversation nobody from the team has joined: a lead nobody answered.
	LeadAlertsTo []string  `json:"lead_alerts_to"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
}

// MaxLeadAlertsTo is the most addresses Policy.LeadAlertsTo may hold.
const MaxLeadAlertsTo = 20

// lists names the four lists as stored: (list, kind) per Policy field.
func (p *Policy) lists() []struct {
	list, kind, field string
	v                 *[]string
} {
	return []struct {
		list, kind, field string
		v                 *[]string
	}{
		{"allow", "domain", "allow_domains", &p.AllowDomains},
		{"block", "domain", "block_domains", &p.BlockDomains},
		{"allow", "address", "allow_addresses", &p.AllowAddresses},
		{"block", "address", "block_addresses", &p.BlockAddresses},
	}
}

// Normalize checks p and puts its lists in normalized form (lower case, without duplicates; the
// store gives them back sorted). It returns errs.Invalid naming the bad entry ("block_domains[3]").
func (p *Policy) Normalize() error {
	if p.DomainBurst < 0 || p.DomainBurst > MaxDomainBurst {
		return errs.Field(errs.Invalid, "domain_burst", "must be between 0 (no limit) and %d", MaxDomainBurst)
	}
	for _, l := range p.lists() {
		if len(*l.v) > MaxListEntries {
			return errs.Field(errs.Invalid, l.field, "has %d entries; the limit is %d", len(*l.v), MaxListEntries)
		}
	}
	r, err := p.Rules().Normalize()
	if err != nil {
		return err
	}
	if len(p.LeadAlertsTo) > MaxLeadAlertsTo {
		return errs.Field(errs.Invalid, "lead_alerts_to", "has %d addresses; the limit is %d", len(p.LeadAlertsTo), MaxLeadAlertsTo)
	}
	leads, err := address.Policy{AllowAddresses: p.LeadAlertsTo}.Normalize()
	if e := errs.As(err); e != nil {
		e2 := *e
		e2.Field = strings.Replace(e.Field, "allow_addresses", "lead_alerts_to", 1)
		return &e2
	}
	p.LeadAlertsTo = leads.AllowAddresses
	if p.LeadAlertsTo == nil {
		p.LeadAlertsTo = []string{}
	}
	p.AllowDomains, p.BlockDomains, p.AllowAddresses, p.BlockAddresses = r.AllowDomains, r.BlockDomains, r.AllowAddresses, r.BlockAddresses
	for _, l := range p.lists() {
		if *l.v == nil {
			*l.v = []string{}
		}
	}
	return nil
}

// Rules returns p as the validator's policy.
func (p *Policy) Rules() address.Policy {
	return address.Policy{BusinessOnly: p.BusinessOnly, CheckMX: p.CheckMX,
		AllowDomains: p.AllowDomains, BlockDomains: p.BlockDomains,
		AllowAddresses: p.AllowAddresses, BlockAddresses: p.BlockAddresses}
}

// policyTTL is how long a workspace's policy is used from memory; another replica's change is
// seen after at most this long.
const policyTTL = 2 * time.Second

type policyCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]policyEntry
}

type policyEntry struct {
	p   *Policy
	at  time.Time
	gen uint64
}

func newPolicyCache() policyCache { return policyCache{m: map[string]policyEntry{}} }

// Policy returns workspace wsID's policy (the defaults when it never set one). The answer may be
// up to two seconds old when another replica changed it; never after this replica did. Callers
// must not modify it.
func (s *Store) Policy(ctx context.Context, wsID string) (*Policy, error) {
	now := time.Now() // a cache's age: wall time
	s.pol.mu.Lock()
	e, ok := s.pol.m[wsID]
	gen := s.pol.gen
	s.pol.mu.Unlock()
	if ok && now.Sub(e.at) < policyTTL {
		return e.p, nil
	}
	p, err := s.loadPolicy(ctx, s.d, wsID)
	if err != nil {
		return nil, err
	}
	s.pol.mu.Lock()
	if s.pol.gen == gen { // not changed meanwhile by this replica
		if len(s.pol.m) > 10000 {
			s.pol.m = map[string]policyEntry{}
		}
		s.pol.m[wsID] = policyEntry{p: p, at: now, gen: gen}
	}
	s.pol.mu.Unlock()
	return p, nil
}

func (s *Store) loadPolicy(ctx context.Context, q db.Queryer, wsID string) (*Policy, error) {
	p := &Policy{AllowDomains: []string{}, BlockDomains: []string{}, AllowAddresses: []string{}, BlockAddresses: []string{}, LeadAlertsTo: []string{}}
	var at int64
	leads := "[]"
	err := q.QueryRowContext(ctx, `SELECT business_only, check_mx, domain_burst, lead_alerts_to, updated_at FROM email_policies WHERE workspace_id = $1`, wsID).
		Scan(&p.BusinessOnly, &p.CheckMX, &p.DomainBurst, &leads, &at)
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("email.Policy: %w", err)
	}
	if err := json.Unmarshal([]byte(leads), &p.LeadAlertsTo); err != nil || p.LeadAlertsTo == nil {
		p.LeadAlertsTo = []string{}
	}
	if at != 0 {
		p.UpdatedAt = db.Time(at)
	}
	rows, err := q.QueryContext(ctx, `SELECT list, kind, value FROM email_list_entries WHERE workspace_id = $1 ORDER BY value`, wsID)
	if err != nil {
		return nil, fmt.Errorf("email.Policy: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var list, kind, v string
		if err := rows.Scan(&list, &kind, &v); err != nil {
			return nil, fmt.Errorf("email.Policy: %w", err)
		}
		for _, l := range p.lists() {
			if l.list == list && l.kind == kind {
				*l.v = append(*l.v, v)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("email.Policy: %w", err)
	}
	return p, nil
}

// SetPolicy replaces workspace wsID's policy and lists with p (normalized first) in one
// transaction, and returns it as stored. It returns errs.Invalid naming the bad entry.
func (s *Store) SetPolicy(ctx context.Context, wsID string, p Policy) (*Policy, error) {
	if err := p.Normalize(); err != nil {
		return nil, err
	}
	now := s.clk.Now()
	err := s.d.InTx(ctx, func(tx *sql.Tx) error {
		leads, _ := json.Marshal(p.LeadAlertsTo)
		if _, err := tx.ExecContext(ctx, `INSERT INTO email_policies (workspace_id, business_only, check_mx, domain_burst, lead_alerts_to, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id) DO UPDATE SET business_only = $2, check_mx = $3, domain_burst = $4,
			lead_alerts_to = $5, updated_at = $6`,
			wsID, p.BusinessOnly, p.CheckMX, p.DomainBurst, string(leads), db.Micro(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM email_list_entries WHERE workspace_id = $1`, wsID); err != nil {
			return err
		}
		for _, l := range p.lists() {
			for _, v := range *l.v {
				if _, err := tx.ExecContext(ctx, `INSERT INTO email_list_entries (workspace_id, list, kind, value, created_at) VALUES ($1, $2, $3, $4, $5)`,
					wsID, l.list, l.kind, v, db.Micro(now)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("email.SetPolicy: %w", err)
	}
	s.pol.mu.Lock()
	s.pol.gen++
	delete(s.pol.m, wsID)
	s.pol.mu.Unlock()
	return s.loadPolicy(ctx, s.d, wsID) // as stored: lists sorted, the time in microseconds
}

// MaxPolicyBody is the largest policy document the API takes (four full lists).
const MaxPolicyBody = 4 << 20
