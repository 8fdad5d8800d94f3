package identity

import "testing"

func BenchmarkHashDefault(b *testing.B) {
	for i := 0; i < b.N; i++ {
		HashPassword("correct horse battery", DefaultHashParams)
	}
}
