package metrics_test

import (
	"testing"

	"github.com/gregor-streams/gregor/internal/testmetrics"
)

// scrape is one parsed /metrics answer.
type scrape = testmetrics.Families

func scrapeURL(url string) (scrape, error) { return testmetrics.Scrape(url) }

func mustScrape(t *testing.T, url string) scrape {
	t.Helper()
	s, err := scrapeURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
