import ArgumentParser
import CLISupport
import Foundation
import SyncModel
import SyncStore
import SyncNode

@main
struct PosNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "posnode",
        abstract: "Offline-first point-of-sale store node: partners, addresses, documents, change journal, sync.",
        subcommands: [
            Init.self, PartnerCommand.self, AddressCommand.self, ReceiptCommand.self, DocumentCommand.self,
            JournalCommand.self, StatusCommand.self, StateHashCommand.self, SyncCommand.self, ServeCommand.self,
            CustomerCommand.self, BalancesCommand.self, DuplicatesCommand.self, AuditCommand.self, ConfigCommand.self,
            APITokenCommand.self, InstitutionCommand.self, MemberCommand.self, PriceCommand.self, OrderCommand.self, CatalogCommand.self,
            AccessRequestCommand.self,
        ])

    /// glibc's malloc settings first (`MallocTuning`: the measurements), then the command.
    static func main() async {
        MallocTuning.apply(arenas: 1, mmapThreshold: nil)
        await JSONErrors.main(Self.self)
    }
}

/// The `--db` option every command takes.
struct StoreOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Path of the node's SQLite store.")
    var db: String

    @Option(name: .long, help: "SQLite synchronous mode (FULL: a power cut loses nothing committed).")
    var synchronous: SynchronousMode = .full

    func open() throws -> NodeStore {
        try NodeStore.open(path: db, options: StoreOptions(synchronous: synchronous))
    }
}


struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create and initialize a node store.")

    @OptionGroup var store: StoreOptionGroup
    @Option(help: "Node id (unique in the chain), e.g. K1-POS1.") var node: String
    @Option(help: "Site (store) this node belongs to, e.g. WAW01.") var site: String
    @Option(help: "POS station series, used as prefix for clashing partner codes, e.g. K1.") var series: String
    @Option(help: "Hub URL, e.g. http://127.0.0.1:8080.") var hub: String?
    @Option(help: "Bearer token printed by 'poshub node add'.") var token: String?
    @Option(help: ArgumentHelp("For an https:// hub: PEM file of the chain's certificate authorities (default: the system's trust store).", valueName: "file"))
    var caFile: String?
    @Flag(help: "Center parameter: new business customers get the lowest price.") var lowestPriceBusiness = false
    @Flag(help: "Center parameter: new consumers get the lowest price.") var lowestPriceConsumer = false
    @Option(help: "Center parameter: the country of partners registered without one, e.g. PL (the NIP and PESEL checks run for it).")
    var defaultCountry: String?
    @Flag(help: "Allow a plain http:// hub on another machine (the token and customer data cross the network readable).") var insecurePlaintext = false
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let center = CenterParameters(lowestPriceForNewBusiness: lowestPriceBusiness, lowestPriceForNewConsumer: lowestPriceConsumer,
                                      defaultCountry: defaultCountry?.uppercased())
        try HubURL.validate(hub, insecurePlaintext: insecurePlaintext)
        let ca = try caFile.map(HubURL.checkedCAFile)
        let created = try NodeStore.create(path: store.db, node: node, site: site, series: series, hubURL: hub, token: token,
                                           hubCAFile: ca, center: center, options: StoreOptions(synchronous: store.synchronous))
        if insecurePlaintext { try created.setHub(url: hub, token: token, caFile: ca, insecurePlaintext: true) }
        try NodeAPIToken.make(forStore: store.db)
        if json { try printJSON(["node": node, "site": site, "series": series, "db": store.db, "api_token_file": NodeAPIToken.path(forStore: store.db)]); return }
        print("initialized node \(node) (site \(site), series \(series)) in \(store.db)")
        print("local API token in \(NodeAPIToken.path(forStore: store.db)) (posnode api-token --db \(store.db) prints it)")
    }
}

/// Checks on the hub address and CA file an operator gives.
enum HubURL {
    /// An `http://` or `https://` URL with a host.
    static func validate(_ url: String?, insecurePlaintext: Bool = false) throws {
        guard let url else { return }
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https", u.host != nil else {
            throw ValidationError("--hub: \(url) is not an http:// or https:// URL with a host")
        }
        if !insecurePlaintext, HubURLRule.isPlaintextElsewhere(url) {
            throw ValidationError("--hub: \(url) is plain http:// on another machine: the node's token and customer data would cross the network readable; use https:// (with --ca-file), or give --insecure-plaintext")
        }
    }

    /// The absolute path of a CA file that holds certificates (read now, so a bad file is refused at once).
    static func checkedCAFile(_ path: String) throws -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        _ = try HubClient.tls(caFile: absolute)
        return absolute
    }
}

struct APITokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-token",
        abstract: "Print the local API's token (sent by the POS front end as 'Authorization: Bearer TOKEN').",
        discussion: "The token is kept in DB.api-token, readable by the node's user only; a store without one gets one. --rotate replaces it (restart 'posnode serve' afterwards).")

    @OptionGroup var store: StoreOptionGroup
    @Flag(help: "Make a new token; the old one stops working when 'posnode serve' restarts.") var rotate = false
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        _ = try store.open()  // a store that exists
        let token = rotate ? try NodeAPIToken.make(forStore: store.db) : try NodeAPIToken.load(forStore: store.db)
        if json { try printJSON(["token": token]) } else { print(token) }
    }
}

struct StateHashCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-hash",
        abstract: "Print a digest of the replicated tables, equal on stores with the same content.")

    @OptionGroup var store: StoreOptionGroup
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        let hash = try store.open().stateHash()
        if json { try printJSON(["state_hash": hash]) } else { print(hash) }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show or change the node's center parameters (operator).",
        subcommands: [Show.self, SetParameters.self, SetHub.self])

    struct SetHub: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-hub", abstract: "Change the hub's address or this node's token (after 'poshub node rotate-token').")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "Hub URL, e.g. http://127.0.0.1:8080.") var hub: String?
        @Option(help: "Bearer token printed by 'poshub node add' or 'poshub node rotate-token'.") var token: String?
        @Option(help: ArgumentHelp("For an https:// hub: PEM file of the chain's certificate authorities; '' returns to the system's trust store.", valueName: "file"))
        var caFile: String?
        @Flag(help: "Allow a plain http:// hub on another machine (the token and customer data cross the network readable).") var insecurePlaintext = false
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            if hub == nil && token == nil && caFile == nil && !insecurePlaintext { throw ValidationError("give --hub, --token, --ca-file or several") }
        }

        func run() async throws {
            let node = try store.open()
            let current = try node.config()
            // A new address is allowed plain only with the flag; the address kept keeps its permission.
            try HubURL.validate(hub ?? current.hubURL, insecurePlaintext: insecurePlaintext || (hub == nil && current.insecurePlaintext))
            let ca = try caFile.flatMap { $0.isEmpty ? nil : try HubURL.checkedCAFile($0) }
            try node.setHub(url: hub ?? current.hubURL, token: token ?? current.token, caFile: caFile == nil ? current.hubCAFile : ca,
                            insecurePlaintext: hub == nil ? (insecurePlaintext ? true : nil) : insecurePlaintext)
            let caText = caFile == nil ? "" : ", CA \(ca ?? "system trust store")"
            if json { try printJSON(["hub": hub ?? current.hubURL ?? "", "token_set": token == nil ? "false" : "true", "ca_file": ca ?? ""]); return }
            print("hub \(hub ?? current.hubURL ?? "none")\(token == nil ? "" : ", new token set")\(caText)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the center parameters.")
        @OptionGroup var store: StoreOptionGroup
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let c = try store.open().config().center
            if json { try printJSON(c); return }
            print("lowest_price_business: \(c.lowestPriceForNewBusiness)")
            print("lowest_price_consumer: \(c.lowestPriceForNewConsumer)")
            print("default_country: \(c.defaultCountry ?? "none")")
        }
    }

    struct SetParameters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Change center parameters; each change is recorded in the node's audit log (kind config).")
        @OptionGroup var store: StoreOptionGroup
        @Option(help: "New business customers get the lowest price: true or false.") var lowestPriceBusiness: Bool?
        @Option(help: "New consumers get the lowest price: true or false.") var lowestPriceConsumer: Bool?
        @Option(help: "Country of partners registered without one, e.g. PL; 'none' for no default.") var defaultCountry: String?
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            if lowestPriceBusiness == nil && lowestPriceConsumer == nil && defaultCountry == nil {
                throw ValidationError("give at least one of --lowest-price-business, --lowest-price-consumer, --default-country")
            }
        }

        func run() async throws {
            let country = defaultCountry.map { $0.lowercased() == "none" || $0.isEmpty ? nil : $0.uppercased() }
            let c = try store.open().setCenter { c in
                if let v = lowestPriceBusiness { c.lowestPriceForNewBusiness = v }
                if let v = lowestPriceConsumer { c.lowestPriceForNewConsumer = v }
                if let country { c.defaultCountry = country }
            }
            if json { try printJSON(c); return }
            print("center parameters: lowest price business \(c.lowestPriceForNewBusiness), consumer \(c.lowestPriceForNewConsumer), default country \(c.defaultCountry ?? "none")")
        }
    }
}
