.PHONY: run test lint client rules typecheck contracts bench dr-drill deps postgres redis tools kafka-up kafka-down clean

NODE_MODULES := node_modules/.package-lock.json
CLIENT := services/config-client/dist/index.js

## run: start the service on the embedded default (PGlite in ./data), printing its URL and an admin token
run: $(NODE_MODULES)
	node --import tsx services/config-api/main.ts

## test: install dependencies, type-check, and run the whole suite with PostgreSQL, Redis and a Kafka broker
##       (each installed and started when missing, and stopped again if this started it)
test: $(NODE_MODULES) $(CLIENT) tools typecheck lint rules
	infra/scripts/with-services.sh npx vitest run

## lint: the formatter's check and the linter (Biome), over the whole tree (`npx biome check --write .` fixes what it can),
##       and the layers' import rules (.dependency-cruiser.cjs): services -> projections -> events -> infra, the SDK alone
lint: $(NODE_MODULES)
	npx biome ci .
	npx depcruise --config .dependency-cruiser.cjs events services projections infra testing bench

## rules: check the Prometheus alert and recording rules and run their unit tests
rules: tools
	cd infra/prometheus && promtool check rules rules.yml && promtool test rules rules.test.yml

typecheck: $(NODE_MODULES) $(CLIENT)
	npx tsc --noEmit

## client: build the SDK package (services/config-client -> dist), which the example uses as a dependency
client: $(CLIENT)

$(CLIENT): $(NODE_MODULES) $(wildcard services/config-client/*.ts) services/config-client/package.json services/config-client/tsconfig.json
	npm run build --workspace @configledger/client

## contracts: write the Avro schemas (events/avro/*.avsc) and the state topic's JSON Schema from the code's own schemas
contracts: $(NODE_MODULES)
	node --import tsx events/write-contract-files.ts

## bench: GET/PUT throughput, write-to-read delay and propagation to subscribers on PostgreSQL, side by side with etcd
bench: $(NODE_MODULES) tools
	bench/etcd.sh ensure-installed
	infra/scripts/with-services.sh node --import tsx bench/run.ts

## dr-drill: back up mid-traffic, destroy the primary, restore, replay from Kafka; prints RTO and RPO
dr-drill: $(NODE_MODULES) tools
	infra/scripts/with-services.sh npx vitest run services/backup/dr-drill.int.spec.ts

deps: $(NODE_MODULES)

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## postgres / redis: start (installing if needed) the local PostgreSQL or Redis the tests use
postgres:
	infra/postgres/postgres.sh up

redis:
	infra/redis/redis.sh up

tools:
	infra/scripts/ensure-tools.sh

## kafka-up / kafka-down: the local single-node Kafka broker (KRaft) on 127.0.0.1:9092
kafka-up: tools
	infra/kafka/kafka.sh up

kafka-down:
	infra/kafka/kafka.sh down

clean:
	rm -rf data .tmp bench/results/latest.json
