// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "posnode",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "posnode", targets: ["posnode"]),
        .executable(name: "poshub", targets: ["poshub"]),
        .executable(name: "possim", targets: ["possim"]),
        .executable(name: "posbench", targets: ["posbench"]),
        .executable(name: "poserp", targets: ["poserp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // zlib from the system (zlib1g-dev).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),

        // glibc's malloc settings (mallopt), for `MallocTuning`.
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),

        // SQLite process settings Swift cannot make itself (sqlite3_config is variadic).
        .target(name: "CSQLiteTuning", linkerSettings: [.linkedLibrary("sqlite3")]),

        // Business partners, addresses, documents, validation, journal entries, HLC.
        .target(name: "SyncModel"),
        // The store layer node and hub share: GRDB schema, replicated tables, the node's
        // journal, state hash, audit.
        .target(name: "SyncStore", dependencies: [
            "SyncModel", "CSQLiteTuning",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Batch framing: header, CRC32, zlib with hard limits.
        .target(name: "SyncWire", dependencies: ["SyncModel", "CZlib"]),
        // Store-prefix rule, LWW merge, multi-site customer move, balances.
        .target(name: "SyncReconcile", dependencies: [
            "SyncModel", "SyncStore",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // The central data synchronization service: its schema, store, feed, API and the
        // threads and checkpointer only the hub runs.
        .target(name: "SyncHub", dependencies: [
            "SyncModel", "SyncStore", "SyncWire", "SyncReconcile",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        // The accounting connector: the ERP adapter (Business Central API v2.0), the runs, their
        // schedule and mails.
        .target(name: "SyncAccounting", dependencies: [
            "SyncModel", "SyncStore", "SyncHub",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The operator console: pages served by the hub, operators' logins and sessions.
        .target(name: "SyncConsole", dependencies: [
            "SyncModel", "SyncStore", "SyncHub", "SyncAccounting",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // A stand-in for the ERP's API on loopback (tests, demo, benchmark) and its command.
        .target(name: "ERPTestServer", dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "poserp", dependencies: [
            "ERPTestServer",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The store node: local API and sync client.
        .target(name: "SyncNode", dependencies: [
            "SyncModel", "SyncStore", "SyncWire",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Test support: temporary folders, child processes with the port handshake, an
        // in-process hub with store nodes (`World`).
        .target(name: "SyncTesting", dependencies: [
            "SyncModel", "SyncStore", "SyncHub", "SyncNode",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),

        // What both command-line tools share: enum options, JSON and error output.
        .target(name: "CLISupport", dependencies: [
            "SyncModel", "SyncStore", "CMalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "posnode", dependencies: [
            "CLISupport", "SyncModel", "SyncStore", "SyncNode", "SyncReconcile",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "poshub", dependencies: [
            "CLISupport", "SyncModel", "SyncStore", "SyncHub", "SyncWire", "SyncReconcile", "SyncAccounting", "SyncConsole",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The reconnect simulation (library, so tests can run small simulations) and its command.
        .target(name: "Simulation", dependencies: [
            "SyncModel", "SyncStore", "SyncWire", "SyncReconcile", "SyncHub", "SyncNode",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Simulator/Simulation"),
        .executableTarget(name: "possim", dependencies: [
            "Simulation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Simulator/possim"),

        // Benchmarks (Scripts/bench.sh): not part of the test suite.
        .executableTarget(name: "posbench", dependencies: [
            "SyncModel", "SyncStore", "SyncWire", "SyncHub", "SyncNode", "Simulation", "SyncTesting", "SyncAccounting", "ERPTestServer", "SyncConsole",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),

        .testTarget(name: "SyncModelTests", dependencies: [
            "SyncModel", .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "SyncStoreTests", dependencies: [
            "SyncModel", "SyncStore", "SyncTesting", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "SyncWireTests", dependencies: ["SyncModel", "SyncWire"]),
        .testTarget(name: "SyncReconcileTests", dependencies: [
            "SyncModel", "SyncStore", "SyncReconcile", "SyncHub", "SyncNode", "SyncWire", "SyncTesting",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "SyncHubTests", dependencies: [
            "SyncModel", "SyncStore", "SyncReconcile", "SyncHub", "SyncNode", "SyncWire", "SyncTesting",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "SyncNodeTests", dependencies: [
            "SyncModel", "SyncStore", "SyncHub", "SyncNode", "SyncWire", "SyncTesting",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation"]),
        .testTarget(name: "SyncConsoleTests", dependencies: [
            "SyncModel", "SyncStore", "SyncHub", "SyncNode", "SyncConsole", "SyncTesting",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "SyncAccountingTests", dependencies: [
            "SyncModel", "SyncStore", "SyncHub", "SyncAccounting", "ERPTestServer", "SyncTesting",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "SyncModel", "SyncStore", "SyncWire", "SyncTesting", "CLISupport", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ]
)
