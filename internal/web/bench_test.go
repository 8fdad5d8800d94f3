package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/beckonhq/beckon/internal/testkit"
)

// BenchmarkAPIMe measures GET /api/v1/me over loopback — token lookup, user load, JSON — against a
// bare net/http handler answering a similar JSON body on the same machine in the same run.
// Compare the two ns/op figures: the ratio is what Beckon's stack costs per request.
func BenchmarkAPIMe(b *testing.B) {
	h := newHarness(b, testkit.SQLite(b))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(b *testing.B, url, token string) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.Run("beckon", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b, h.srv.URL+"/api/v1/me", h.adminToken)
			}
		})
	})
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"user":{"id":"usr_x","email":"admin@acme.example","role":"admin"},"scopes":["users:read"]}`))
	}))
	defer bare.Close()
	b.Run("bare-net-http", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b, bare.URL, "")
			}
		})
	})
}
