// The resident form: the ID number checked as typed fills gender and birth date, which are then
// read-only; every error under its field (ResidentFormViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI

struct ResidentFormView: View {
    @State var vm: ResidentFormViewModel
    let language: Language
    @Environment(\.dismiss) var dismiss

    var body: some View {
        NavigationStack {
            Form {
                TextField("姓名", text: $vm.name)
                FieldError(error: vm.fieldErrors["name"], language: language)
                TextField("身份证号", text: Binding(get: { vm.idNumber }, set: { t in _Concurrency.Task { await vm.setIdNumber(t) } }))
                    .keyboardType(.asciiCapable).textInputAutocapitalization(.characters)
                    .onSubmit { _Concurrency.Task { await vm.idNumberFinished() } }
                FieldError(error: vm.fieldErrors["id_number"], language: language)
                Picker("性别", selection: $vm.gender) {
                    Text("—").tag(Gender?.none)
                    ForEach([Gender.male, .female], id: \.self) { Text($0.label(language)).tag(Gender?.some($0)) }
                }
                .disabled(vm.filledFromIdNumber)
                TextField("出生日期 (YYYY-MM-DD)", text: $vm.birthDate).disabled(vm.filledFromIdNumber)
                FieldError(error: vm.fieldErrors["birth_date"], language: language)
                TextField("电话", text: $vm.phone).keyboardType(.phonePad)
                FieldError(error: vm.fieldErrors["phone"], language: language)
                Picker("与户主关系", selection: $vm.relation) {
                    ForEach([Relation.head, .spouse, .child, .parent, .grandparent, .grandchild, .sibling, .tenant, .other], id: \.self) {
                        Text($0.label(language)).tag($0)
                    }
                }
                Picker("户籍", selection: $vm.residency) {
                    ForEach([Residency.registered, .floating], id: \.self) { Text($0.label(language)).tag($0) }
                }
                if let error = vm.error { Text(error.message(language)).foregroundStyle(.red) }
                Button("保存") { _Concurrency.Task { if await vm.save() { dismiss() } } }.bigButton().buttonStyle(.borderedProminent)
            }
            .navigationTitle("人员登记")
        }
    }
}
