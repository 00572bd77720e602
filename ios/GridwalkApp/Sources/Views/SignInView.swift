// Sign-in: server, user name, password; errors under their fields (SignInViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI
import UIKit

struct SignInView: View {
    @Bindable var vm: SignInViewModel
    let language = Language.preferred()

    var body: some View {
        Form {
            Section {
                TextField("服务器地址", text: $vm.serverUrl).textContentType(.URL).keyboardType(.URL).autocorrectionDisabled()
                FieldError(error: vm.fieldErrors["server_url"], language: language)
                TextField("用户名", text: $vm.username).textContentType(.username).textInputAutocapitalization(.never)
                FieldError(error: vm.fieldErrors["username"], language: language)
                SecureField("密码", text: $vm.password).textContentType(.password)
                FieldError(error: vm.fieldErrors["password"], language: language)
            }
            if let error = vm.error { Text(error.message(language)).foregroundStyle(.red) }
            Button { _Concurrency.Task { await vm.signIn(deviceName: UIDevice.current.name) } } label: {
                if vm.isWorking { ProgressView() } else { Text("登录").bigButton() }
            }
            .buttonStyle(.borderedProminent)
            .disabled(vm.isWorking)
        }
        .navigationTitle("登录")
    }
}
