.PHONY: test check fuzz build demo

build:
	go build -o leaktrace ./cmd/leaktrace

demo:
	go run ./cmd/leaktrace demo

test:
	go test -race -shuffle=on ./...

check:
	gofmt -l . | (! grep .)
	go mod tidy -diff
	go vet ./...

# Each fuzz target for FUZZTIME (default 2m); crashers land in testdata/fuzz/.
FUZZTIME ?= 2m
fuzz:
	@for pkg in $$(go list ./...); do \
		for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done
