import Crypto
import CryptoExtras
import Foundation

/// Operators' console passwords: scrypt (N = 2^14, r = 8, p = 1, 32 bytes, a 16-byte random
/// salt), stored as `scrypt$N$r$p$SALT$HASH` (base64). About 50 ms a check on this 2-core VM:
/// slow for a guesser, quick for a person.
public enum ConsolePassword {
    static let rounds = 16_384, blockSize = 8, parallelism = 1

    public static func hash(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        for i in salt.indices { salt[i] = UInt8.random(in: 0...255) }
        let key = try KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: salt, outputByteCount: 32,
                                           rounds: rounds, blockSize: blockSize, parallelism: parallelism)
        let hash = key.withUnsafeBytes { Data($0) }
        return "scrypt$\(rounds)$\(blockSize)$\(parallelism)$\(Data(salt).base64EncodedString())$\(hash.base64EncodedString())"
    }

    /// Whether `password` matches `stored` (compared in constant time).
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let n = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
              let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]),
              let key = try? KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: salt, outputByteCount: expected.count,
                                                  rounds: n, blockSize: r, parallelism: p) else { return false }
        let got = key.withUnsafeBytes { Data($0) }
        guard got.count == expected.count else { return false }
        var diff: UInt8 = 0
        for (a, b) in zip(got, expected) { diff |= a ^ b }
        return diff == 0
    }

    /// Checks a new password: 12 characters at least.
    public static func check(_ password: String) throws {
        guard password.count >= 12 else {
            throw ConsoleError("password: at least 12 characters (this one has \(password.count))")
        }
    }
}

public struct ConsoleError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
