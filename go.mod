module github.com/wasitls/wasitls

go 1.26

require (
	github.com/cloudflare/circl v1.6.5
	github.com/exaring/ja4plus v0.0.2
	github.com/jackc/pgx/v5 v5.12.0
	github.com/open-ch/ja3 v1.0.1
	github.com/refraction-networking/utls v1.8.2
	github.com/tetratelabs/wazero v1.12.0
	go.uber.org/goleak v1.3.0
	go.yaml.in/yaml/v3 v3.0.4
	golang.org/x/net v0.56.0
	golang.org/x/sys v0.47.0
)

require (
	github.com/andybalholm/brotli v1.0.6 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/klauspost/compress v1.17.4 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)
