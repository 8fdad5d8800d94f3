package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/beckonhq/beckon/internal/errs"
	"github.com/beckonhq/beckon/internal/jobs"
	"github.com/beckonhq/beckon/internal/version"
)

// Metrics are the Prometheus metrics of a server (P6). Later packages register theirs on Registry.
type Metrics struct {
	Registry *prometheus.Registry
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge

	// Sockets (docs/REALTIME.md).
	sockets           *prometheus.GaugeVec   // connected, by kind (visitor, rep)
	socketFrames      prometheus.Counter     // frames written
	socketSlow        prometheus.Counter     // sockets closed as slow consumers
	socketRefused     *prometheus.CounterVec // frames refused, by reason
	messagesDelivered prometheus.Counter     // chat messages written to sockets
	alertsDelivered   *prometheus.CounterVec // alerts written to rep sockets, by stream
	refusedTotal      *prometheus.CounterVec // public submissions and requests refused by the spam defences, by reason
}

// NewMetrics makes the registry with HTTP, Go runtime, process and build metrics, and the jobs
// gauge when q is not nil (read from the database at each scrape).
func NewMetrics(q *jobs.Queue) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "beckon_http_request_duration_seconds", Help: "HTTP request latency by route pattern, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "beckon_http_requests_in_flight", Help: "HTTP requests being served."}),
		sockets: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "beckon_sockets_connected", Help: "WebSockets connected to this server, by kind."},
			[]string{"kind"}),
		socketFrames: prometheus.NewCounter(prometheus.CounterOpts{Name: "beckon_socket_frames_sent_total", Help: "Frames written to WebSockets."}),
		socketSlow: prometheus.NewCounter(prometheus.CounterOpts{Name: "beckon_sockets_slow_closed_total",
			Help: "WebSockets closed because they read too slowly (they resume after reconnecting)."}),
		socketRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beckon_socket_frames_refused_total",
			Help: "Frames from clients refused, by reason."}, []string{"reason"}),
		messagesDelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "beckon_messages_delivered_total",
			Help: "Chat messages delivered to WebSockets."}),
		alertsDelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beckon_alerts_delivered_total",
			Help: "Alerts delivered to reps' consoles, by stream."}, []string{"stream"}),
		refusedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beckon_spam_refused_total",
			Help: "Public submissions and requests refused by the spam defences (E4), by reason."}, []string{"reason"}),
	}
	v := version.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "beckon_build_info", Help: "Version of this server; always 1.",
		ConstLabels: prometheus.Labels{"version": v.App, "go": v.Go, "tzdata": v.TZData}})
	build.Set(1)
	reg.MustRegister(m.duration, m.inFlight, m.sockets, m.socketFrames, m.socketSlow, m.socketRefused, m.messagesDelivered, m.alertsDelivered, m.refusedTotal, build, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if q != nil {
		reg.MustRegister(&jobsCollector{q: q, desc: prometheus.NewDesc("beckon_jobs", "Background jobs by state.", []string{"state"}, nil)})
	}
	return m
}

// refused counts one refusal by the spam defences.
func (m *Metrics) refused(reason string) { m.refusedTotal.WithLabelValues(reason).Inc() }

func (m *Metrics) observe(route, method string, code int, took time.Duration) {
	if code == 0 {
		code = http.StatusOK
	}
	m.duration.WithLabelValues(route, method, strconv.Itoa(code)).Observe(took.Seconds())
}

// jobsCollector reports job counts by state at scrape time.
type jobsCollector struct {
	q    *jobs.Queue
	desc *prometheus.Desc
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.q.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, st := range []jobs.State{jobs.Queued, jobs.Running, jobs.Retrying, jobs.Succeeded, jobs.Failed} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}

// metricsHandler answers GET /metrics in the Prometheus text format. With a metrics token set,
// only a request with 'Authorization: Bearer <token>' is answered; any other gets 401.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	if s.metricsToken != "" && !bearerMatches(r, s.metricsToken) {
		return errs.E(errs.Unauthenticated, "the metrics need 'Authorization: Bearer <metrics token>' (BECKON_METRICS_TOKEN)")
	}
	promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

// bearerMatches reports whether r carries 'Authorization: Bearer <want>'. It compares hashes in
// constant time, so that the answer's timing tells nothing of the token, its length included.
func bearerMatches(r *http.Request, want string) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got, exp := sha256.Sum256([]byte(strings.TrimSpace(tok))), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(got[:], exp[:]) == 1
}
