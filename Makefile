# trackflow — local development. `.dev/` (ignored) holds the dev and test servers' state and
# the built binaries; every target works on a fresh machine with Go and the PostgreSQL server
# binaries (Debian package `postgresql`).

SHELL := /bin/bash
LOCAL := deployments/local
BIN   := .dev/bin

.DEFAULT_GOAL := help
.PHONY: help run test build vet lint temporal bench bench-scale console-screenshots temporal-ui-screenshot stop-dev clean-dev record-histories

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-10s %s\n", $$1, $$2 }'

run: build ## run API + worker with demo data (starts dev Postgres :55432 and Temporal :7233, UI :8233, unless DATABASE_URL / TEMPORAL_ADDRESS are set)
	$(LOCAL)/run.sh $(BIN)/trackflow

test: ## what CI runs: go vet, gofmt/staticcheck/workflowcheck, go test -race against test Postgres :55433 and Temporal :7244, a short fuzz run
	$(LOCAL)/test.sh

record-histories: ## run every workflow shape on the test servers (TRACKFLOW_TEST_* exported, see test.sh) and write the histories to workflows/testdata
	TRACKFLOW_RECORD_HISTORIES=1 go test -count=1 -run '^TestWorkflowShapesReplay$$' ./e2e/

build: ## build the binary into .dev/bin/trackflow
	go build -o $(BIN)/trackflow ./cmd/trackflow

vet: ## go vet
	go vet ./...

lint: ## gofmt -l, staticcheck, workflowcheck (pinned in deployments/tools, built into .dev/bin)
	$(LOCAL)/lint.sh

temporal: ## build the pinned Temporal CLI (dev server + Web UI) into .dev/bin/temporal
	$(LOCAL)/temporal.sh build

bench: ## performance figures vs baselines in one run (bench Postgres :55450, Temporal :7260, UI :8260); see BENCHMARKS.md
	$(LOCAL)/bench.sh

console-screenshots: ## re-take docs/console/*.png with the console's browser test (needs chromium and the test servers of make test, or TRACKFLOW_TEST_*)
	mkdir -p docs/console && TRACKFLOW_CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console go test -count=1 -run '^TestConsoleInBrowser$$' ./e2e/

temporal-ui-screenshot: ## re-take docs/temporal-ui.png (the Temporal UI's workflow list with the ConversionSummary column) with its browser test (needs chromium, make temporal, and the test Postgres of make test, or TRACKFLOW_TEST_DATABASE_URL)
	TRACKFLOW_TEMPORAL_CLI=$${TRACKFLOW_TEMPORAL_CLI:-$(CURDIR)/$(BIN)/temporal} TRACKFLOW_TEMPORAL_UI_SCREENSHOT=$(CURDIR)/docs/temporal-ui.png \
		go test -count=1 -run '^TestTemporalUIListShowsSummaries$$' ./e2e/

bench-scale: ## issue 11's data-growth figures: SCALE_MILLIONS million clicks (default 20) over 30 days, reports and lookups at 1 M and N M (bench Postgres :55450)
	$(LOCAL)/bench-scale.sh

stop-dev: ## stop every local server that these scripts started
	-$(LOCAL)/temporal.sh stop .dev/temporal
	-$(LOCAL)/temporal.sh stop .dev/test-temporal
	-$(LOCAL)/postgres.sh stop .dev/pg
	-$(LOCAL)/postgres.sh stop .dev/test-pg
	-$(LOCAL)/temporal.sh stop .dev/bench-temporal
	-$(LOCAL)/postgres.sh stop .dev/bench-pg

clean-dev: stop-dev ## stop everything and delete .dev/
	rm -rf .dev
