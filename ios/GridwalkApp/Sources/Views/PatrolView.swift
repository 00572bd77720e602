// A patrol: a large clock, distance and fix count while it runs; start and stop (PatrolViewModel).
import GridwalkCore
import GridwalkKit
import SwiftUI

struct PatrolView: View {
    @State var vm: PatrolViewModel
    let language = Language.preferred()

    var body: some View {
        VStack(spacing: 24) {
            if vm.isRunning {
                TimelineView(.periodic(from: .now, by: 1)) { context in
                    Text(Format.duration(seconds: vm.elapsedSeconds(at: context.date))).font(.system(size: 56, weight: .bold, design: .rounded))
                }
                Text(Format.distance(vm.distanceM, language)).font(.largeTitle)
                Text("定位点 \(vm.pointCount)").font(.title3).foregroundStyle(.secondary)
                TextField("巡查记录", text: $vm.notes, axis: .vertical).textFieldStyle(.roundedBorder)
                Button("结束巡查") { _Concurrency.Task { await vm.stop() } }.bigButton().buttonStyle(.borderedProminent).tint(.red)
            } else {
                if let done = vm.finished {
                    Text("已完成：\(Format.distance(done.distanceM, language))，\(Format.duration(seconds: done.durationS))").font(.title3)
                }
                if vm.grids.count > 1 {
                    Picker("网格", selection: Binding(get: { vm.gridCode }, set: { vm.chooseGrid($0) })) {
                        ForEach(vm.grids, id: \.code) { Text($0.name).tag($0.code) }
                    }
                }
                Button("开始巡查") { _Concurrency.Task { await vm.start() } }.bigButton().buttonStyle(.borderedProminent)
            }
            if let error = vm.error { Text(error.message(language)).foregroundStyle(.red) }
        }
        .padding()
        .navigationTitle("巡查")
        .task { await vm.resume() }
    }
}
