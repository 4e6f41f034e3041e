using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Lowering;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>The publisher's memory of what it wrote to each slot (docs/incremental.md, "The loader's
/// side") never stands in for the maps when someone else wrote them: loads with the memory
/// interleaved with loads without it (another process) always leave the live maps equal to the image.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SlotMemoryTests
{
    [KernelFact]
    public void Loads_with_the_memory_interleaved_with_other_loads_leave_exactly_the_image_in_force()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        var rng = new Random(17);
        var world = WorldGen.World(rng, new WorldGenOptions(Workloads: 30, Policies: 12, Services: 6));
        var pool = WorldGen.World(new Random(18), new WorldGenOptions(Workloads: 30, Policies: 12, Services: 6));
        string node = world.Workloads.GroupBy(w => w.Node).OrderByDescending(g => g.Count()).First().Key;
        var steps = new WorldSteps(rng, pool);
        var inc = new IncrementalLowerer(node);
        var memory = new SlotMemory();
        int withMemory = 0, without = 0;
        for (int i = 0; i < 60; i++)
        {
            (world, _) = steps.Next(world);
            var bag = new DiagnosticBag();
            if (inc.Lower(world, bag) is not { } image) continue;
            // Every third load is another process's: no memory, and it moves the slots under ours.
            bool other = i % 3 == 1;
            using (var loader = NodeLoader.Open(dir, TimeSpan.FromSeconds(10), create: true))
                loader.Load(image, null, other ? null : memory);
            if (other) without++; else withMemory++;
            using var reader = NodeLoader.Open(dir, TimeSpan.FromSeconds(10), create: false);
            var live = reader.Dump() ?? throw new InvalidOperationException("nothing in force");
            Assert.True(ImageText.Render(image) == ImageText.Render(live.Image) && image.ContentHash() == live.ContentHash, $"load {i} ({(other ? "without" : "with")} the memory): the live maps differ from the image");
        }
        Assert.True(withMemory > 20 && without > 10, $"{withMemory} loads with the memory, {without} without");
    }
}
