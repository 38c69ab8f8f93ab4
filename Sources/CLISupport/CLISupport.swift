import ArgumentParser
import Foundation
import Logging
import SyncModel
import SyncStore

// Options with a fixed set of values parse into their enums: a wrong value is refused with the
// list of valid ones (ArgumentParser's message), never replaced by a default.
extension PartnerKind: ExpressibleByArgument {}
extension DocumentKind: ExpressibleByArgument {}
extension AuditKind: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

extension SynchronousMode: ExpressibleByArgument {
    /// `full` as well as `FULL`.
    public init?(argument: String) { self.init(name: argument) }
}

/// Prints a value as JSON (sorted keys, snake_case names as the types encode them) on stdout.
public func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints a one-line message on stderr.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
