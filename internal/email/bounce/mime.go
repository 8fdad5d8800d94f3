package bounce

import (
	"bufio"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"

	"github.com/beckonhq/beckon/internal/errs"
)

// Limits of the text/plain parts kept for the plain-text bounce fallback.
const (
	maxTexts    = 3
	maxTextSize = 128 << 10
)

// walker looks through a message's MIME structure for a report and the original headers beside
// it, within MaxParts parts and MaxDepth levels.
type walker struct {
	parts        int
	containers   int
	tooManyParts bool

	kind            string // KindDeliveryStatus or KindFeedbackReport once a report part is found
	report          string // the decoded report part
	reportContainer int    // the id of the multipart holding the report; -1 when none

	orig      textproto.MIMEHeader // the original headers in the report's multipart
	firstOrig textproto.MIMEHeader // the first original headers anywhere, for plain bounces
	texts     []string             // the first text/plain parts, for plain bounces
}

// entity looks at one MIME entity with header h and (still encoded) body. depth is its nesting
// level, container the id of the multipart it is a part of, and inReport whether that multipart
// is a multipart/report. When the entity is a message or a header block, entity returns its
// header: a candidate for the original message's headers. The only error is errs.TooLarge for a
// report part over MaxReportPartSize.
func (w *walker) entity(h textproto.MIMEHeader, body io.Reader, depth, container int, inReport bool) (textproto.MIMEHeader, error) {
	mt, params := mediaType(h)
	switch mt {
	case "message/delivery-status", "message/global-delivery-status", "message/feedback-report":
		if w.kind != "" {
			return nil, nil
		}
		data, over := readAtMost(decode(h, body), MaxReportPartSize)
		if over {
			return nil, errs.Field(errs.TooLarge, "Content-Type", "the %s part is larger than %d bytes", mt, MaxReportPartSize)
		}
		w.kind = KindDeliveryStatus
		if mt == "message/feedback-report" {
			w.kind = KindFeedbackReport
		}
		w.report = string(data)
		w.reportContainer = container
		return nil, nil

	case "text/rfc822-headers", "message/global-headers":
		text, _ := readHeaderBlock(bufio.NewReader(decode(h, body)), MaxHeaderSize)
		return w.candidate(toMIMEHeader(parseFields(text))), nil

	case "message/rfc822", "message/global":
		br := bufio.NewReader(decode(h, body))
		text, truncated := readHeaderBlock(br, MaxHeaderSize)
		hdr := w.candidate(toMIMEHeader(parseFields(text)))
		// Outside a report, a message may be a forwarded bounce: look inside.
		if hdr != nil && !inReport && !truncated && w.kind == "" && depth < MaxDepth {
			id := w.containers
			w.containers++
			if _, err := w.entity(hdr, br, depth+1, id, false); err != nil {
				return nil, err
			}
		}
		return hdr, nil

	case "text/plain":
		if len(w.texts) < maxTexts {
			data, _ := readAtMost(decode(h, body), maxTextSize)
			w.texts = append(w.texts, string(data))
		}
		return nil, nil
	}
	if strings.HasPrefix(mt, "multipart/") && depth < MaxDepth && params["boundary"] != "" {
		return nil, w.multipart(mt, params["boundary"], decode(h, body), depth+1)
	}
	return nil, nil
}

// candidate notes h as a possible original header and returns it, or nil when it is empty.
func (w *walker) candidate(h textproto.MIMEHeader) textproto.MIMEHeader {
	if len(h) == 0 {
		return nil
	}
	if w.firstOrig == nil {
		w.firstOrig = h
	}
	return h
}

// multipart looks at the parts of a multipart entity of media type mt, whose parts are at depth.
func (w *walker) multipart(mt, boundary string, r io.Reader, depth int) error {
	id := w.containers
	w.containers++
	inReport := mt == "multipart/report"
	mr := multipart.NewReader(r, boundary)
	var local textproto.MIMEHeader
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		if w.parts >= MaxParts {
			w.tooManyParts = true
			break
		}
		w.parts++
		cand, err := w.entity(textproto.MIMEHeader(p.Header), p, depth, id, inReport)
		if err != nil {
			return err
		}
		if local == nil {
			local = cand
		}
	}
	if w.kind != "" && w.reportContainer == id && w.orig == nil {
		w.orig = local
	}
	return nil
}

// mediaType returns the lower-cased media type of h and its parameters; text/plain when h has
// no Content-Type. A Content-Type whose parameters do not parse still gives its type and, when it
// can be found, its boundary.
func mediaType(h textproto.MIMEHeader) (string, map[string]string) {
	ct := strings.TrimSpace(h.Get("Content-Type"))
	if ct == "" {
		return "text/plain", nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		return mt, params
	}
	mt, _, _ = strings.Cut(ct, ";")
	params = map[string]string{}
	if b := boundaryParam(ct); b != "" {
		params["boundary"] = b
	}
	return strings.ToLower(strings.TrimSpace(mt)), params
}

// boundaryParam digs the boundary parameter out of a Content-Type that mime.ParseMediaType
// refuses (a duplicate or badly quoted parameter); "" when there is none.
func boundaryParam(ct string) string {
	const name = "boundary="
	i := 0
	for ; i+len(name) <= len(ct) && !strings.EqualFold(ct[i:i+len(name)], name); i++ {
	}
	if i+len(name) > len(ct) {
		return ""
	}
	v := ct[i+len(name):]
	if strings.HasPrefix(v, `"`) {
		v = v[1:]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return v[:j]
		}
		return ""
	}
	if j := strings.IndexAny(v, "; \t"); j >= 0 {
		v = v[:j]
	}
	return v
}

// decode undoes the Content-Transfer-Encoding of h (base64 or quoted-printable) on r.
func decode(h textproto.MIMEHeader, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// base64Filter passes on only the characters of the base64 alphabet, so that line breaks and
// stray spaces do not stop the decoder.
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// readAtMost reads r up to n bytes; over is true when r holds more. A read error ends the data
// early: what was read is kept.
func readAtMost(r io.Reader, n int) (data []byte, over bool) {
	data, _ = io.ReadAll(io.LimitReader(r, int64(n)+1))
	if len(data) > n {
		return data[:n], true
	}
	return data, false
}
