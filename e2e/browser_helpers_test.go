package e2e

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startBrowser starts Debian's headless chromium for t, with opts added to chromedp's defaults
// (no sandbox: CI runs as root, where chromium's sandbox cannot start). It returns the browser's
// context, which ends after timeout, and run, which performs actions in it and fails t naming
// what on an error. The browser stops when t ends. Without chromium the test fails, never skips:
// .ci/run installs it.
func startBrowser(t *testing.T, timeout time.Duration, opts ...chromedp.ExecAllocatorOption) (
	ctx context.Context, run func(what string, actions ...chromedp.Action[chromedp.Void])) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("%s needs chromium: apt-get install -y chromium (.ci/run installs it)", t.Name())
	}
	all := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(all, opts...)...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	run = func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	return ctx, run
}

// into turns an action that yields a value into one that stores it in dst, so that a sequence of
// steps can read the page as it goes.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, tg)
		*dst = v
		return chromedp.Void{}, err
	}
}
