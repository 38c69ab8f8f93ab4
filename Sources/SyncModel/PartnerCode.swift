import Foundation

/// The one normal form of a partner code, and what a code may contain (docs/rules.md,
/// "Partner codes").
///
/// Codes are typed in by hand at the till, so two codes a cashier cannot tell apart are the
/// same code: every entry point (CLI, node API, hub API) passes a code through `normalized`
/// before it looks it up or stores it, and the hub refuses a pushed code that is not in
/// normal form.
public enum PartnerCode {
    /// The longest code a user enters.
    public static let maxEnteredLength = 40
    /// The longest code the store-prefix rule produces: series (≤ 32) + separator (≤ 3) +
    /// an entered code (≤ 40) + a `-N` suffix. Every command accepts every code up to this length.
    public static let maxStoredLength = 80

    /// Unicode NFKC, then upper case: `c1` is `C1`, the NFC and NFD spellings of `ŻÓŁW` are
    /// one code, and so are fullwidth `ＡＤＵＬＴ` and `ADULT`. Whitespace around the code is
    /// dropped (what a terminal or form field adds).
    public static func normalized(_ code: String) -> String {
        // Codes are mostly ASCII: skip the Unicode work for them.
        if code.utf8.allSatisfy({ $0 < 0x80 }) {
            if code.utf8.allSatisfy({ !($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) && $0 != 0x20 }) { return code }
            return code.trimmingCharacters(in: .whitespaces).uppercased()
        }
        return code.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCompatibilityMapping.uppercased()
            .precomposedStringWithCompatibilityMapping
    }

    /// Whether `code` is already in normal form.
    public static func isNormalized(_ code: String) -> Bool {
        // By bytes: Swift's `==` holds canonically equivalent spellings equal.
        code.utf8.elementsEqual(normalized(code).utf8)
    }

    /// The first character a code must not contain, described for the cashier; nil when every
    /// character may stand in a code. Refused: '|' (the key separator), whitespace, control and
    /// format characters (zero-width space, BOM, direction marks), line and paragraph
    /// separators, private-use, surrogate and unassigned code points.
    public static func forbiddenCharacter(in code: String) -> String? {
        for scalar in code.unicodeScalars {
            if scalar == "|" { return "'|'" }
            if scalar.value < 0x80 {
                if scalar.value <= 0x20 || scalar.value == 0x7F {
                    return scalar == " " ? "a space" : String(format: "the control character U+%04X", scalar.value)
                }
                continue
            }
            switch scalar.properties.generalCategory {
            case .control: return String(format: "the control character U+%04X", scalar.value)
            case .format: return String(format: "the invisible character U+%04X", scalar.value)
            case .spaceSeparator, .lineSeparator, .paragraphSeparator: return String(format: "the space character U+%04X", scalar.value)
            case .privateUse, .surrogate, .unassigned: return String(format: "the unassigned or private character U+%04X", scalar.value)
            default: continue
            }
        }
        return nil
    }

    /// The problem of `code` as the code of a partner (nil: a valid code). `entered`: the code
    /// comes from a user creating a partner (at most `maxEnteredLength`), else it is a stored
    /// code (at most `maxStoredLength`).
    public static func problem(_ code: String, entered: Bool) -> FieldError? {
        if PartnerValidator.isBlank(code) {
            return FieldError(field: "code", reason: "is mandatory")
        }
        let limit = entered ? maxEnteredLength : maxStoredLength
        // Code points, not displayed characters (a letter with a thousand combining marks).
        let length = code.unicodeScalars.count
        if length > limit {
            return FieldError(field: "code", reason: "is longer than \(limit) characters (\(length) code points)")
        }
        if let bad = forbiddenCharacter(in: code) {
            return FieldError(field: "code", reason: "must not contain \(bad)")
        }
        if !isNormalized(code) {
            return FieldError(field: "code", reason: "'\(code)' is not in normal form (expected '\(normalized(code))')")
        }
        // Entered codes only: a stored code may carry a store's series in front of an entered one.
        if entered, let scripts = mixedScripts(code) {
            return FieldError(field: "code", reason: "'\(code)' mixes \(scripts) letters; a code's letters are of one script, so that look-alikes (Cyrillic А, Latin A) are not two codes")
        }
        return nil
    }

    /// The scripts a code mixes (`Latin and Cyrillic`), nil when its letters are of one script.
    /// Latin, Greek and Cyrillic hold the letters that look alike; other letters count as
    /// their own script.
    public static func mixedScripts(_ code: String) -> String? {
        var found: [String] = []
        for scalar in code.unicodeScalars where scalar.properties.isAlphabetic {
            let v = scalar.value
            let script: String
            switch v {
            case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F, 0x1E00...0x1EFF: script = "Latin"
            case 0x370...0x3FF, 0x1F00...0x1FFF: script = "Greek"
            case 0x400...0x52F: script = "Cyrillic"
            default: script = "other"
            }
            if !found.contains(script) { found.append(script) }
        }
        return found.count > 1 ? found.joined(separator: " and ") : nil
    }
}
