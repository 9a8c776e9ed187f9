package sip

import (
	"slices"
	"testing"
)

// TestExtraHeadersOrder: the names in the order come first, in that order;
// the rest follow sorted; empty values are left out.
func TestExtraHeadersOrder(t *testing.T) {
	h := map[string]string{"X-B": "2", "X-A": "1", "X-Z": "26", "X-Y": "25", "X-E": ""}
	got, err := extraHeaders(h, []string{"X-Z", "X-E", "X-Missing", "X-Y"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, g.Name())
	}
	if want := []string{"X-Z", "X-Y", "X-A", "X-B"}; !slices.Equal(names, want) {
		t.Errorf("extraHeaders order = %v, want %v", names, want)
	}
}
