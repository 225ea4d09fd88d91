package workflows

import (
	"net/url"
	"slices"
	"testing"

	"go.temporal.io/sdk/temporal"
)

// TestSearchAttributeNamesCoverEveryAttributeSet: a conversion with every field known sets exactly
// the attributes that SearchAttributeNames registers, so a key added to the workflow but not to
// the list (or the reverse) fails here.
func TestSearchAttributeNamesCoverEveryAttributeSet(t *testing.T) {
	t.Parallel()
	all := conversionAttributes{OfferID: 1, AffID: 2, InvoiceID: "i", ClickID: "c", Method: "m", Status: "s", Summary: "l"}
	var set []string
	for k := range temporal.NewSearchAttributes(all.updates()...).GetUntypedValues() {
		set = append(set, k.GetName())
	}
	want := slices.Clone(SearchAttributeNames)
	slices.Sort(set)
	slices.Sort(want)
	if !slices.Equal(set, want) {
		t.Fatalf("the workflow sets %v, SearchAttributeNames registers %v", set, want)
	}
}

func TestConversionWorkflowID(t *testing.T) {
	t.Parallel()
	cases := []struct{ invoice, want string }{
		{"INV-1001", "conversion/7/INV-1001"},
		{"A/B_c.d~e!*'()", "conversion/7/A/B_c.d~e!*'()"},
		{"Bestellung-Ä", "conversion/7/Bestellung-%C3%84"},
		{"50% off", "conversion/7/50%25%20off"},
		{"50%25%20off", "conversion/7/50%2525%2520off"}, // the escaped form of another invoice is not it
		{"tab\there", "conversion/7/tab%09here"},
		{"\x7f", "conversion/7/%7F"},
	}
	seen := map[string]string{}
	for _, c := range cases {
		got := ConversionWorkflowID(7, c.invoice, "ignored")
		if got != c.want {
			t.Errorf("invoice %q: %q, want %q", c.invoice, got, c.want)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("invoices %q and %q share %q", prev, c.invoice, got)
		}
		seen[got] = c.invoice
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] >= 0x7f {
				t.Errorf("invoice %q: %q holds byte %#x, not printable ASCII", c.invoice, got, got[i])
			}
		}
	}
	if got := ConversionWorkflowID(7, "", "0123"); got != "conversion/7/-/0123" {
		t.Errorf("without invoice: %q", got)
	}
}

// FuzzEscapeInvoice: the escaped invoice is printable ASCII and decodes back to the invoice, so
// the mapping is one-to-one.
func FuzzEscapeInvoice(f *testing.F) {
	for _, s := range []string{"INV-1", "Bestellung-Ä", "50% off", "%", "%%41", "\x00", "a\xffb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, invoice string) {
		got := escapeInvoice(invoice)
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] >= 0x7f {
				t.Fatalf("%q: %q holds %#x", invoice, got, got[i])
			}
		}
		if back, err := url.PathUnescape(got); err != nil || back != invoice {
			t.Fatalf("%q escaped to %q, which decodes to %q (%v)", invoice, got, back, err)
		}
	})
}
