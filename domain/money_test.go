package domain

import (
	"encoding/json"
	"testing"
)

func TestParseMoney(t *testing.T) {
	t.Parallel()
	valid := map[string]Money{"19.95": 1995, "0": 0, "1200": 120000, "5.5": 550, "9999999999.99": MaxMoney, "0.01": 1}
	for s, want := range valid {
		got, err := ParseMoney(s)
		if err != nil || got != want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d", s, got, err, want)
		}
		if back, _ := ParseMoney(got.String()); back != got {
			t.Errorf("round trip of %q via %q", s, got.String())
		}
	}
	for _, s := range []string{"-1", "1e3", "NaN", ".5", "5.", "007", "1.999", "+5", "", " 1", "10000000000", "1,5", "Infinity"} {
		if _, err := ParseMoney(s); err == nil {
			t.Errorf("ParseMoney(%q) accepted", s)
		}
	}
}

func TestMoneyStringAlwaysTwoDecimals(t *testing.T) {
	t.Parallel()
	for m, want := range map[Money]string{0: "0.00", 5: "0.05", 200: "2.00", 1995: "19.95", -150: "-1.50"} {
		if m.String() != want {
			t.Errorf("%d: %q, want %q", int64(m), m.String(), want)
		}
	}
	b, _ := json.Marshal(struct{ A Money }{200})
	if string(b) != `{"A":"2.00"}` {
		t.Errorf("json %s", b)
	}
	var m Money
	if err := json.Unmarshal([]byte(`19.95`), &m); err != nil || m != 1995 {
		t.Errorf("json number: %d %v", m, err)
	}
	if err := json.Unmarshal([]byte(`1e3`), &m); err == nil {
		t.Error("json 1e3 accepted")
	}
}

func TestParsePercent(t *testing.T) {
	t.Parallel()
	if p, err := ParsePercent("100"); err != nil || p != 10000 {
		t.Errorf("100: %d %v", p, err)
	}
	for _, s := range []string{"100.01", "101", "-1", "1.234"} {
		if _, err := ParsePercent(s); err == nil {
			t.Errorf("ParsePercent(%q) accepted", s)
		}
	}
}

func TestCommissionRoundsHalfUp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p    Payout
		sale Money
		want Money
	}{
		{Payout{Type: PayoutCPS, Percent: 1000}, 1995, 200}, // 1.995 → 2.00
		{Payout{Type: PayoutCPS, Percent: 1000}, 1994, 199}, // 1.994 → 1.99
		{Payout{Type: PayoutCPS, Percent: 333}, 1000, 33},   // 0.333 → 0.33
		{Payout{Type: PayoutCPS, Percent: 10000}, MaxMoney, MaxMoney},
		{Payout{Type: PayoutCPA, Amount: 500, Percent: 5000}, 100000, 500},
		{Payout{Type: PayoutCPACPS, Amount: 500, Percent: 250}, 1000, 525},
		{Payout{Type: PayoutCPS, Percent: 50}, 1, 0},   // 0.00005 → 0.00
		{Payout{Type: PayoutCPS, Percent: 5000}, 1, 1}, // 0.005 → 0.01
	}
	for _, c := range cases {
		if got := c.p.Commission(c.sale); got != c.want {
			t.Errorf("%+v on %s: %s, want %s", c.p, c.sale, got, c.want)
		}
	}
}

func TestExpandMacros(t *testing.T) {
	t.Parallel()
	got := ExpandMacros("https://x.example/p?s={sub_id}&c={click_id}&u={unknown}&e={creative_id}",
		map[string]string{"sub_id": "a&b #ü", "click_id": "abc"})
	want := "https://x.example/p?s=a%26b+%23%C3%BC&c=abc&u={unknown}&e="
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestMoneyJSONReadsWhatItWrites(t *testing.T) {
	t.Parallel()
	// A commission may exceed the largest amount a client may send; payloads must still decode.
	big := Money(1999999999998)
	b, _ := json.Marshal(big)
	var back Money
	if err := json.Unmarshal(b, &back); err != nil || back != big {
		t.Fatalf("%s: %d %v", b, back, err)
	}
	if _, err := ParseMoneyJSON(b); err == nil {
		t.Fatal("ParseMoneyJSON accepted an amount over the input maximum")
	}
	if m, err := ParseMoneyJSON([]byte(`19.95`)); err != nil || m != 1995 {
		t.Fatalf("JSON number: %d %v", m, err)
	}
	if _, err := ParseMoneyJSON([]byte(`"1e3"`)); err == nil {
		t.Fatal("1e3 accepted")
	}
}
