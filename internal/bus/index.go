package bus

import "strings"

// index finds the subscribers whose subject matches a literal subject, as the NATS server does: a
// tree with one level per token, where a node's star and gt children hold the subscriptions with
// "*" or ">" at that level. A lookup costs one map read per token, plus a walk down each "*"
// branch met on the way, however many subscriptions there are. It is not safe for concurrent use;
// inProcess guards it with a lock.
type index struct {
	root node
}

type node struct {
	next     map[string]*node // children by literal token
	star, gt *node            // the children for "*" and ">"
	subs     []*subscriber    // subscriptions whose subject ends at this node
}

// child returns n's child for tok, creating it when create is true; otherwise it may be nil.
func (n *node) child(tok string, create bool) *node {
	var p **node
	switch tok {
	case "*":
		p = &n.star
	case ">":
		p = &n.gt
	default:
		c := n.next[tok]
		if c == nil && create {
			if n.next == nil {
				n.next = make(map[string]*node)
			}
			c = &node{}
			n.next[tok] = c
		}
		return c
	}
	if *p == nil && create {
		*p = &node{}
	}
	return *p
}

// drop removes n's child for tok.
func (n *node) drop(tok string) {
	switch tok {
	case "*":
		n.star = nil
	case ">":
		n.gt = nil
	default:
		delete(n.next, tok)
	}
}

func (n *node) empty() bool {
	return len(n.subs) == 0 && len(n.next) == 0 && n.star == nil && n.gt == nil
}

// add records s under its subject, which must be valid.
func (x *index) add(s *subscriber) {
	n := &x.root
	for tok := range strings.SplitSeq(s.subject, ".") {
		n = n.child(tok, true)
	}
	n.subs = append(n.subs, s)
}

// remove forgets s, pruning nodes left empty. It does nothing when s is not there.
func (x *index) remove(s *subscriber) {
	removeFrom(&x.root, s.subject, s)
}

// removeFrom removes s from the subtree n, where subject is what remains of s's subject below n
// ("" at s's own node), and reports whether n is left empty.
func removeFrom(n *node, subject string, s *subscriber) bool {
	if subject == "" {
		for i, t := range n.subs {
			if t == s {
				last := len(n.subs) - 1
				n.subs[i], n.subs[last] = n.subs[last], nil
				n.subs = n.subs[:last]
				break
			}
		}
		return n.empty()
	}
	tok, rest, _ := strings.Cut(subject, ".")
	if c := n.child(tok, false); c != nil && removeFrom(c, rest, s) {
		n.drop(tok)
	}
	return n.empty()
}

// each calls f with every subscriber whose subject matches the literal subject, each once.
func (x *index) each(subject string, f func(*subscriber)) {
	eachFrom(&x.root, subject, f)
}

func eachFrom(n *node, subject string, f func(*subscriber)) {
	for {
		tok, rest, more := strings.Cut(subject, ".")
		// ">" matches the remaining tokens, of which there is at least one.
		if n.gt != nil {
			for _, s := range n.gt.subs {
				f(s)
			}
		}
		if c := n.star; c != nil {
			if more {
				eachFrom(c, rest, f)
			} else {
				for _, s := range c.subs {
					f(s)
				}
			}
		}
		c := n.next[tok]
		if c == nil {
			return
		}
		if !more {
			for _, s := range c.subs {
				f(s)
			}
			return
		}
		n, subject = c, rest
	}
}
