package store

import (
	"testing"

	"github.com/trackflow/trackflow/domain"
)

func TestReportRowRates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		clicks, conversions int64
		commission          domain.Money
		rate, epc           string
	}{
		{0, 0, 0, "0.0000", "0.00"},
		{0, 3, 600, "0.0000", "0.00"}, // AFID conversions without clicks
		{4, 3, 600, "0.7500", "1.50"},
		{3, 1, 100, "0.3333", "0.33"},
		{3, 2, 50, "0.6667", "0.17"},    // 0.66666… and 16.666… cents, rounded half up
		{8, 1, 4, "0.1250", "0.01"},     // 0.5 cent rounds up
		{20000, 1, 1, "0.0001", "0.00"}, // 0.00005 rounds up to 0.0001
		{1, 3, 999999999999, "3.0000", "9999999999.99"},
	}
	for _, c := range cases {
		r := ReportRow{Clicks: c.clicks, Conversions: c.conversions, Commission: c.commission}
		if got := r.ConversionRate(); got != c.rate {
			t.Errorf("%+v: conversion rate %s, want %s", c, got, c.rate)
		}
		if got := r.EPC().String(); got != c.epc {
			t.Errorf("%+v: epc %s, want %s", c, got, c.epc)
		}
	}
}
