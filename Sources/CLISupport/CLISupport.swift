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

/// An error that names a field (the hub's errors wrap a `FieldError`).
public protocol CarriesFieldError: Error {
    var fieldError: FieldError? { get }
}

/// How the executables run a command: as ArgumentParser does, except that with `--json` on
/// the command line an error is JSON on standard error, `{"error", "field", "problems"}`, with
/// the same exit code as the text (`--help` prints as usual).
public enum JSONErrors {
    public static func main<C: AsyncParsableCommand>(_ type: C.Type) async {
        do {
            var command = try type.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand { try await asyncCommand.run() } else { try command.run() }
        } catch {
            let code = type.exitCode(for: error)
            guard CommandLine.arguments.dropFirst().contains("--json"), code != .success else { type.exit(withError: error) }
            FileHandle.standardError.write(Data((body(error, message: type.message(for: error)) + "\n").utf8))
            exit(code.rawValue)
        }
    }

    /// The JSON text of `error`: its message, the field it names and every problem.
    public static func body(_ error: Error, message: String) -> String {
        var problems: [FieldError] = []
        if let e = error as? FieldError { problems = [e] }
        else if let e = error as? InvalidFields { problems = e.problems }
        else if let e = (error as? CarriesFieldError)?.fieldError { problems = [e] }
        struct Problem: Encodable { var field: String; var reason: String }
        struct Body: Encodable { var error: String; var field: String?; var problems: [Problem] }
        let b = Body(error: message, field: problems.first?.field, problems: problems.map { Problem(field: $0.field, reason: $0.reason) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(b)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"error":"unknown"}"#
    }
}

/// A password or key read from a file (`--password-file`): never from the command line, where
/// `ps` would show it. The line end is dropped; an unreadable or empty file is refused by name.
public enum SecretFile {
    public static func read(_ path: String, field: String = "password_file") throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FieldError(field: field, reason: "cannot read \(path)")
        }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        guard !secret.isEmpty else { throw FieldError(field: field, reason: "\(path) is empty") }
        return secret
    }
}
