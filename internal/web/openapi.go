package web

import (
	_ "embed"
	"net/http"
)

// openapiDoc is the OpenAPI 3.1 description of /api/v1; TestOpenAPIMatchesRoutes keeps it true.
//
//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(openapiDoc)
	return nil
}
