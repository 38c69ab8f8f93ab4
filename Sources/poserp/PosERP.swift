import ArgumentParser
import ERPTestServer
import Foundation
import Hummingbird

/// The test ERP (a stand-in for Business Central's API v2.0) for the demo, the tests and the
/// benchmark: `poserp serve --port 0` prints `listening on 127.0.0.1:PORT`.
@main
struct PosERP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poserp",
        abstract: "A test ERP speaking Business Central's API v2.0 on loopback (docs/accounting.md, \"The test ERP\").",
        subcommands: [Serve.self])

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the test ERP until stopped.")
        @Option(help: "Port on 127.0.0.1 (0: a free one, printed).") var port = 0
        @Option(help: "The company id in the API's paths.") var company = "CRONUS"
        @Option(help: "The user of HTTP Basic authentication.") var user = "erp"
        @Option(name: .customLong("password-file"), help: "A file holding the password of HTTP Basic authentication.") var passwordFile: String
        @Option(name: .customLong("requests-per-5min"), help: "Requests per 5 minutes before 429s.") var requestsPer5Minutes = 6000
        @Option(name: .customLong("page-size"), help: "Entities per page of a list.") var pageSize = 100

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: passwordFile) else {
                throw ValidationError("--password-file: cannot read \(passwordFile)")
            }
            let password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let server = ERPTestServer(company: company, user: user, password: password,
                                       requestsPer5Minutes: requestsPer5Minutes, pageSize: pageSize)
            let app = server.application(port: port) { port in
                print("listening on 127.0.0.1:\(port)")
                fflush(nil)
            }
            try await app.runService()
        }
    }
}
