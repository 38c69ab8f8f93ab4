import Foundation

/// A path segment of an HTTP route as a record's code: percent-decoded (UTF-8), on the node's
/// and the hub's routes alike, so that `/partners/%C5%BB%C3%93%C5%81W1` is `ŻÓŁW1` and a code
/// holding `%41` is reached by `%2541`, not by the literal path. A segment that is not valid
/// percent-encoding is taken as it stands (it names no record then).
public enum PathSegment {
    public static func decoded(_ raw: String?) -> String {
        guard let raw else { return "" }
        guard raw.contains("%") else { return raw }
        return raw.removingPercentEncoding ?? raw
    }
}
