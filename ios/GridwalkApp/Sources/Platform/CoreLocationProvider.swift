// GPS from Core Location. While a patrol runs, updates continue in the background (the
// `location` background mode, `allowsBackgroundLocationUpdates`); they stop with the patrol.
import CoreLocation
import Foundation
import GridwalkCore
import GridwalkKit

final class CoreLocationProvider: NSObject, LocationProvider, CLLocationManagerDelegate, @unchecked Sendable {
    private let manager = CLLocationManager()
    private let lock = NSLock()
    private var onFix: (@Sendable (LocationFix) -> Void)?

    override init() {
        super.init()
        manager.delegate = self
        manager.desiredAccuracy = kCLLocationAccuracyBest
        manager.distanceFilter = 5
        manager.activityType = .fitness
    }

    func startUpdates(_ onFix: @escaping @Sendable (LocationFix) -> Void) throws {
        switch manager.authorizationStatus {
        case .denied, .restricted:
            throw AppError(kind: .failure, code: "location_denied", messageZh: "未允许定位，请在设置中开启",
                           messageEn: "location is not allowed; turn it on in Settings")
        case .notDetermined:
            manager.requestAlwaysAuthorization()
        default:
            break
        }
        lock.lock(); self.onFix = onFix; lock.unlock()
        manager.allowsBackgroundLocationUpdates = true
        manager.showsBackgroundLocationIndicator = true
        manager.pausesLocationUpdatesAutomatically = false
        manager.startUpdatingLocation()
    }

    func stopUpdates() {
        manager.stopUpdatingLocation()
        manager.allowsBackgroundLocationUpdates = false
        lock.lock(); onFix = nil; lock.unlock()
    }

    func currentFix() async -> LocationFix? {
        manager.location.map(Self.fix)
    }

    func locationManager(_ manager: CLLocationManager, didUpdateLocations locations: [CLLocation]) {
        lock.lock(); let deliver = onFix; lock.unlock()
        for l in locations { deliver?(Self.fix(l)) }
    }

    private static func fix(_ l: CLLocation) -> LocationFix {
        LocationFix(lat: l.coordinate.latitude, lng: l.coordinate.longitude,
                    accuracyM: l.horizontalAccuracy >= 0 ? l.horizontalAccuracy : nil,
                    atMs: epochMs(l.timestamp))
    }
}
