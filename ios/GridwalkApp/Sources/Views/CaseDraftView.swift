// A case draft: category → sub-type, urgency, description, place, photos; every change is saved as
// it is made (CaseDraftViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI
import UIKit

struct CaseDraftView: View {
    @State var vm: CaseDraftViewModel
    let caseId: String?
    let language: Language
    @Environment(\.dismiss) var dismiss

    var body: some View {
        Form {
            Picker("大类", selection: Binding(get: { vm.categoryCode ?? "" }, set: { vm.chooseCategory($0) })) {
                Text("请选择").tag("")
                ForEach(vm.categories, id: \.code) { Text(language.pick(zh: $0.labelZh, en: $0.labelEn)).tag($0.code) }
            }
            Picker("小类", selection: Binding(get: { vm.typeCode ?? "" }, set: { c in _Concurrency.Task { await vm.chooseSubType(c) } })) {
                Text("请选择").tag("")
                ForEach(vm.subTypes, id: \.code) { Text(language.pick(zh: $0.labelZh, en: $0.labelEn)).tag($0.code) }
            }
            FieldError(error: vm.fieldErrors["type_code"], language: language)
            Picker("紧急程度", selection: Binding(get: { vm.urgency }, set: { vm.setUrgency($0) })) {
                ForEach([Urgency.normal, .urgent, .emergency], id: \.self) { Text($0.label(language)).tag($0) }
            }
            TextField("描述", text: Binding(get: { vm.description }, set: { vm.setDescription($0) }), axis: .vertical)
            FieldError(error: vm.fieldErrors["description"], language: language)
            TextField("地址", text: Binding(get: { vm.address }, set: { vm.setAddress($0) }))
            Button(vm.location == nil ? LocalizedStringKey("使用当前位置") : LocalizedStringKey("已定位 ✓")) { _Concurrency.Task { await vm.useCurrentLocation() } }.frame(minHeight: 52)
            FieldError(error: vm.fieldErrors["location"], language: language)
            Section("照片 \(vm.photos.count)") {
                ScrollView(.horizontal) {
                    HStack { ForEach(vm.photos, id: \.id) { p in
                        if let path = p.thumbPath ?? p.path, let image = UIImage(contentsOfFile: path) {
                            Image(uiImage: image).resizable().scaledToFill().frame(width: 80, height: 80).clipped()
                        }
                    } }
                }
                Button("拍照") { _Concurrency.Task { await vm.takePhoto() } }.bigButton()
                FieldError(error: vm.fieldErrors["photo"], language: language)
            }
            if let error = vm.error { Text(error.message(language)).foregroundStyle(.red) }
            Button("提交") { _Concurrency.Task { if await vm.submit() { dismiss() } } }.bigButton().buttonStyle(.borderedProminent)
            Button("放弃草稿", role: .destructive) { _Concurrency.Task { await vm.discard(); dismiss() } }
        }
        .navigationTitle("事件上报")
        .task {
            if let caseId { await vm.restore(caseId: caseId) }
        }
    }
}
