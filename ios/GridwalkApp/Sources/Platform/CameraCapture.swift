// The camera (or, without one, the photo library) through UIImagePickerController. iPhones
// shoot HEIC, which the core refuses: the image is re-encoded as JPEG here before GridwalkKit
// sees it (the core then downscales it and strips EXIF).
import GridwalkKit
import UIKit

@MainActor
final class CameraCapture: NSObject, PhotoCapture, UIImagePickerControllerDelegate, UINavigationControllerDelegate {
    private var continuation: CheckedContinuation<Data?, Never>?

    nonisolated func captureJPEG() async throws -> Data? {
        await present()
    }

    private func present() async -> Data? {
        guard let root = UIApplication.shared.connectedScenes
            .compactMap({ ($0 as? UIWindowScene)?.keyWindow?.rootViewController }).first else { return nil }
        let picker = UIImagePickerController()
        picker.sourceType = UIImagePickerController.isSourceTypeAvailable(.camera) ? .camera : .photoLibrary
        picker.delegate = self
        return await withCheckedContinuation { c in
            continuation = c
            root.present(picker, animated: true)
        }
    }

    func imagePickerController(_ picker: UIImagePickerController, didFinishPickingMediaWithInfo info: [UIImagePickerController.InfoKey: Any]) {
        let image = info[.originalImage] as? UIImage
        picker.dismiss(animated: true)
        // jpegData re-encodes whatever the camera produced (HEIC included) as JPEG.
        continuation?.resume(returning: image?.jpegData(compressionQuality: 0.85))
        continuation = nil
    }

    func imagePickerControllerDidCancel(_ picker: UIImagePickerController) {
        picker.dismiss(animated: true)
        continuation?.resume(returning: nil)
        continuation = nil
    }
}
