// Texts the screens show that are computed from values (labels of the core's vocabularies,
// distances, durations, overdue badges, "last synced"), in Chinese or English. Here rather than
// in the views, so both languages are tested and a view only places strings. Fixed UI words
// (button titles) live in the app's string catalog.
import Foundation
import GridwalkCore

/// A core vocabulary: every such enum carries its own Chinese and English labels.
public protocol Vocabulary {
    func labelZh() -> String
    func labelEn() -> String
}

extension Vocabulary {
    public func label(_ language: Language) -> String { language.pick(zh: labelZh(), en: labelEn()) }
}

extension CareTier: Vocabulary {}
extension Gender: Vocabulary {}
extension Relation: Vocabulary {}
extension Residency: Vocabulary {}
extension SpecialGroup: Vocabulary {}
extension VisitMode: Vocabulary {}
extension VisitOutcome: Vocabulary {}
extension Urgency: Vocabulary {}
extension CaseStatus: Vocabulary {}
extension CaseEventKind: Vocabulary {}
extension SyncStatus: Vocabulary {}
extension TaskKind: Vocabulary {}
extension Priority: Vocabulary {}
extension HousingType: Vocabulary {}

public enum Format {
    /// `350 米` / `350 m`, `1.2 公里` / `1.2 km`.
    public static func distance(_ metres: Double, _ language: Language) -> String {
        if metres < 1000 {
            let m = Int(metres.rounded())
            return language.pick(zh: "\(m) 米", en: "\(m) m")
        }
        let km = String(format: "%.1f", metres / 1000)
        return language.pick(zh: "\(km) 公里", en: "\(km) km")
    }

    /// `1:05:09` or `5:09`.
    public static func duration(seconds: Int64) -> String {
        let s = max(seconds, 0)
        let h = s / 3600, m = (s % 3600) / 60, sec = s % 60
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, sec) : String(format: "%d:%02d", m, sec)
    }

    /// The daily list's red badge: nil when not overdue.
    public static func overdue(days: Int64, _ language: Language) -> String? {
        guard days > 0 else { return nil }
        return language.pick(zh: "逾期 \(days) 天", en: days == 1 ? "1 day overdue" : "\(days) days overdue")
    }

    /// "Last synced …" relative to `now`.
    public static func lastSync(ms: Int64?, now: Date, _ language: Language) -> String {
        guard let ms else { return language.pick(zh: "从未同步", en: "never synced") }
        let minutes = Int((now.timeIntervalSince1970 * 1000 - Double(ms)) / 60_000)
        switch minutes {
        case ..<1: return language.pick(zh: "刚刚同步", en: "synced just now")
        case ..<60: return language.pick(zh: "\(minutes) 分钟前同步", en: "synced \(minutes) min ago")
        case ..<(24 * 60):
            return language.pick(zh: "\(minutes / 60) 小时前同步", en: "synced \(minutes / 60) h ago")
        default:
            let d = minutes / (24 * 60)
            return language.pick(zh: "\(d) 天前同步", en: "synced \(d) days ago")
        }
    }
}

/// Milliseconds since the epoch, UTC (the core's instants).
public func epochMs(_ date: Date = Date()) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
