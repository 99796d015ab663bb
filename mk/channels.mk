# Channels (issue 4): headless Chromium for the widget tests, the stock rasa-webchat client
# from npm for the compatibility test, and the channel figures.

CHROMIUM   ?= /usr/bin/chromium
WEBCHAT_DIR := var/npm/webchat

.PHONY: browser
browser: ## Install Debian's chromium and chromium-driver if missing (widget tests)
	@test -x $(CHROMIUM) -a -x /usr/bin/chromedriver || { \
		echo "installing chromium and chromium-driver from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver >/dev/null; }

$(WEBCHAT_DIR)/.installed: tests/e2e/webchat/package.json tests/e2e/webchat/package-lock.json tests/e2e/webchat/.npmrc
	mkdir -p $(WEBCHAT_DIR)
	cp tests/e2e/webchat/package.json tests/e2e/webchat/package-lock.json tests/e2e/webchat/.npmrc $(WEBCHAT_DIR)/
	cd $(WEBCHAT_DIR) && npm ci --silent --no-audit --no-fund --ignore-scripts
	touch $@

.PHONY: webchat
webchat: $(WEBCHAT_DIR)/.installed ## Install the stock rasa-webchat 1.0.1 client from npm (lockfile in tests/e2e/webchat)

prepare:: browser webchat

.PHONY: bench-channels
bench-channels: prepare ## Gateway overhead per channel, widget weight and time to interactive (docs/benchmarks.md)
	$(PY) -m benchmarks.channels
