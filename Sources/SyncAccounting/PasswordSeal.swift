import Crypto
import Foundation

/// The ERP password at rest: sealed (ChaCha20-Poly1305) under a key kept in a file of its
/// own beside the hub's database (`HUB.erp-key`, mode 0600, made at the first
/// `poshub erp configure`). The database, or a copy of it, holds only the sealed bytes; the
/// password needs the key file too (docs/security.md, "The ERP password").
public enum PasswordSeal {
    /// The key file of the hub database at `db`.
    public static func keyPath(db: String) -> String { db + ".erp-key" }

    /// Seals `password` with the key in `keyPath`, making the key file when there is none.
    public static func seal(_ password: String, keyPath: String) throws -> Data {
        let key = try loadKey(keyPath, create: true)
        guard let combined = try ChaChaPoly.seal(Data(password.utf8), using: key).combined as Data? else {
            throw ERPSystemError(.configuration, "the password could not be sealed")
        }
        return combined
    }

    /// The password sealed in `sealed`, opened with the key in `keyPath`.
    public static func open(_ sealed: Data, keyPath: String) throws -> String {
        let key = try loadKey(keyPath, create: false)
        do {
            return String(decoding: try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: sealed), using: key), as: UTF8.self)
        } catch {
            throw ERPSystemError(.configuration, "the ERP password cannot be opened with the key in \(keyPath): run poshub erp configure again",
                                 detail: "\(error)")
        }
    }

    static func loadKey(_ path: String, create: Bool) throws -> SymmetricKey {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw ERPSystemError(.configuration, "\(path) is not a 32-byte key file") }
            return SymmetricKey(data: data)
        }
        guard create else {
            throw ERPSystemError(.configuration, "the ERP password's key file \(path) is missing: run poshub erp configure again")
        }
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
            throw ERPSystemError(.configuration, "cannot write the key file \(path)")
        }
        return key
    }
}
