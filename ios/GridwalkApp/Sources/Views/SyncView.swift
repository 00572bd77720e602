// Sync: last sync, what waits, progress with cancel, conflicts to decide, refused changes to retry
// or discard (SyncViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI

struct SyncView: View {
    @State var vm: SyncViewModel
    let language: Language

    var body: some View {
        List {
            Section {
                Text(vm.lastSyncText(language)).font(.title3)
                Text("待上传 \(vm.pendingCount) 条")
                if vm.isSyncing {
                    if let f = vm.fractionDone { ProgressView(value: f) } else { ProgressView() }
                    Button("取消同步") { vm.cancel() }.bigButton()
                } else {
                    Button("立即同步") { _Concurrency.Task { await vm.syncNow() } }.bigButton().buttonStyle(.borderedProminent)
                }
                if let error = vm.error { Text(error.message(language)).foregroundStyle(.red) }
            }
            if !vm.conflicts.isEmpty {
                Section("数据冲突") {
                    ForEach(vm.conflicts, id: \.id) { c in
                        VStack(alignment: .leading, spacing: 8) {
                            Text("\(c.entity) · \(c.field)").font(.headline)
                            Button("保留：\(c.keptValueText)") { _Concurrency.Task { await vm.keepCurrent(c) } }.frame(minHeight: 44)
                            Button("改用：\(c.lostValueText)") { _Concurrency.Task { await vm.takeOther(c) } }.frame(minHeight: 44)
                        }
                    }
                }
            }
            if !vm.attention.isEmpty {
                Section("需要处理") {
                    ForEach(vm.attention, id: \.changeId) { item in
                        VStack(alignment: .leading, spacing: 8) {
                            Text(item.serverMessage)
                            HStack {
                                Button("重试") { _Concurrency.Task { await vm.retry(item) } }.frame(minHeight: 44)
                                Spacer()
                                Button("放弃此修改", role: .destructive) { _Concurrency.Task { await vm.discard(item) } }.frame(minHeight: 44)
                            }
                        }
                    }
                }
            }
        }
        .navigationTitle("同步")
        .task { await vm.load() }
    }
}
