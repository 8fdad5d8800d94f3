package cond

import (
	"unicode/utf8"
)

// JSON returns the condition in its canonical JSON form, which Compile turns back into the same
// Expr with the same schema: keys in the order subject, op, value; no value for exists and
// not_exists; values normalised (country codes in upper case, picklist values and territory
// names spelt as the schema spells them, numbers written plainly); no white space. An empty
// condition is {}.
func (e *Expr) JSON() []byte {
	if e == nil || e.root == nil {
		return []byte("{}")
	}
	return e.root.appendJSON(nil)
}

func (n *node) appendJSON(b []byte) []byte {
	switch n.group {
	case gAll, gAny:
		if n.group == gAll {
			b = append(b, `{"all":[`...)
		} else {
			b = append(b, `{"any":[`...)
		}
		for i := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			b = n.kids[i].appendJSON(b)
		}
		return append(b, "]}"...)
	case gNot:
		b = append(b, `{"not":`...)
		b = n.kids[0].appendJSON(b)
		return append(b, '}')
	}
	b = append(b, `{"subject":`...)
	b = appendJSONString(b, n.subject)
	b = append(b, `,"op":`...)
	b = appendJSONString(b, n.op.String())
	switch n.op.shape() {
	case NoValue:
		return append(b, '}')
	case RangeValue:
		b = append(b, `,"value":[`...)
		b = append(b, formatNum(n.nums[0])...)
		b = append(b, ',')
		b = append(b, formatNum(n.nums[1])...)
		return append(b, "]}"...)
	case ListValue:
		b = append(b, `,"value":[`...)
		for i, s := range n.strs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, "]}"...)
	}
	b = append(b, `,"value":`...)
	switch n.dom {
	case dNum:
		b = append(b, formatNum(n.nums[0])...)
	case dBool:
		if n.flag {
			b = append(b, "true"...)
		} else {
			b = append(b, "false"...)
		}
	default:
		b = appendJSONString(b, n.strs[0])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and control characters
// escaped, bytes that are not UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
