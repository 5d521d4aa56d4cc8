#pragma once
// chrysalis/detail/gemm.hpp — C = op(A)·op(B) (or C += …) through chrysalis's packed kernel
// (gemm_kernel.hpp), with the packing workspace kept between calls, split across threads.
//
// Eigen's `C.noalias() = A * B` allocates its packing workspace on every call once it is larger
// than EIGEN_STACK_ALLOCATION_LIMIT (128 KiB), which a training step at these sizes always is; a
// layer keeps one Gemm per product instead, so a step allocates nothing after the first batch.
// Only Eigen's public API is used here: Ref for the operands, nothing of its internal kernels,
// packers or blocking, and every kernel is compiled in chrysalis's instruction-set namespace.
//
// Threads: C is cut into contiguous blocks of rows (or of columns, when it is wider than tall),
// four per thread, which the threads claim one at a time (see parallel.hpp); rows are dealt a
// register of rows at a time, so that the blocks come out within one register of each other
// (row_chunks). Each thread runs the
// sequential kernel on its blocks with its own workspace. Every block packs its share of the
// large operand, and each thread packs all of the small one (a batch: 128 columns here, or a
// packed op(A) of few rows when columns are cut) once per product, at its first block, so the
// threads never wait for each other inside a product and no element of C depends on the
// scheduling (on a 512-bit FMA datapath the kernel reads both in place instead, but a transposed
// op(A), and on Intel a transposed op(B): gemm_kernel.hpp, reads_in_place and
// reads_transposed_b_in_place). Eigen's own OpenMP GEMM shares the packed operand
// between threads and would also allocate a packing buffer per thread on every call.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <vector>

#include "chrysalis/detail/gemm_kernel.hpp"
#include "chrysalis/detail/gemv.hpp"
#include "chrysalis/parallel.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// Whether an operand is used as stored or transposed.
enum class Op { none, transpose };

template <class S>
class Gemm {
  public:
    Gemm() = default;
    // A copy starts with no workspace of its own (it is a cache, not state).
    Gemm(const Gemm&) noexcept {}
    Gemm& operator=(const Gemm&) noexcept { return *this; }
    Gemm(Gemm&&) noexcept = default;
    Gemm& operator=(Gemm&&) noexcept = default;
    ~Gemm() = default;

    /// C = op(A)·op(B) when accumulate is false, C += op(A)·op(B) when true; with `row_init`
    /// (and accumulate false), C = row_init·1ᵀ + op(A)·op(B): a bias added in the same pass.
    /// C, A and B have contiguous columns (inner stride 1); C is already op(A).rows() ×
    /// op(B).cols() and overlaps neither operand. Uses up to threads() threads for large
    /// products. A call larger in any dimension (or on more threads) than all before allocates
    /// workspace; every other call allocates nothing.
    void run(MatrixRef<S> c, ConstMatrixRef<S> a, Op op_a, ConstMatrixRef<S> b, Op op_b,
             bool accumulate = false, const S* row_init = nullptr) {
        note_kernel_isa();
        const Eigen::Index rows = c.rows(), cols = c.cols();
        const Eigen::Index depth = op_a == Op::none ? a.cols() : a.rows();
        eigen_assert(rows == (op_a == Op::none ? a.rows() : a.cols()));
        eigen_assert(cols == (op_b == Op::none ? b.cols() : b.rows()));
        eigen_assert(depth == (op_b == Op::none ? b.rows() : b.cols()));
        // With the packed kernel, a plain C = op(A)·op(B) is written by the kernel's first pass
        // over the depth (C is never read), so C needs no zeroing first.
        const bool kernel_overwrites = !accumulate && !row_init;
        const auto init = [&](MatrixRef<S> block, Eigen::Index row0) {
            if (accumulate || kernel_overwrites) return;
            if (row_init) {
                block.colwise() = Eigen::Map<const Vector<S>>(row_init + row0, block.rows());
            } else {
                block.setZero();
            }
        };
        if (cols == 1 && op_b == Op::none && depth > 0) {
            // One sample: a matrix-vector product, which streams op(A) once instead of packing
            // it. It is bound by the speed op(A) comes from cache or memory, which two cores
            // reading half each nearly double: rows are split as for a product.
            if (kernel_overwrites) c.setZero();
            init(c, 0);
            const int parts = threads_for(double(rows) * double(depth), min_gemv_work_per_thread);
            const long per = block_length(long(rows), chunks_for(parts), 64);
            const auto run_rows = [&](long chunk, int) {
                const long begin = chunk * per, len = std::min(per, long(rows) - begin);
                // Rows [begin, begin + len) of op(A): for a transposed op(A), columns of A.
                const S* a_part =
                    op_a == Op::none ? a.data() + begin : a.data() + begin * a.outerStride();
                gemv(len, long(depth), a_part, long(a.outerStride()), op_a == Op::transpose,
                     b.data(), c.data() + begin);
            };
            parallel_for((long(rows) + per - 1) / per, parts, run_rows,
                         double(rows) * double(depth));
            return;
        }
        if (rows == 0 || cols == 0 || depth == 0) {
            if (kernel_overwrites) c.setZero();
            init(c, 0);
            return;
        }
        // An input gradient's route is chosen by the widest C of its shape this Gemm has
        // computed, not by this one's columns: a smaller last batch then takes the path, and the
        // workspace, of the full batches before it. (Cᵀ, computed through this run() again, has
        // fewer than 4·mr rows, so it neither takes the route nor counts here.)
        bool input_gradient_route = false;
        if (input_gradient_shape(rows, depth, op_a, op_b)) {
            widest_input_gradient_ = std::max(widest_input_gradient_, cols);
            input_gradient_route =
                transposes_input_gradient(rows, widest_input_gradient_, depth, op_a, op_b);
        }
        if (input_gradient_route) {
            run_transposed(c, a, op_a, b, op_b, accumulate, row_init);
            return;
        }
        if (transposes_few_rows(rows, cols, op_b)) {
            // On the calling thread: Cᵀ's rows cut among threads would make a helper fetch its
            // share of op(B) (a layer's input, in a weight gradient) for fewer than mr
            // multiply-adds per value, which does not pay (see split_for): a 784-47-10 training
            // step at batch 1024 took 1.14 times one thread's time with its 47 × 784 weight
            // gradient split.
            ThreadsScope one(1);
            run_transposed(c, a, op_a, b, op_b, accumulate, row_init);
            return;
        }
        // (Not a structured binding: clang 14 cannot capture one in the lambda below.)
        const Split split = split_for(rows, cols, depth);
        const bool split_rows = split.rows;
        int parts = split.parts;
        const Eigen::Index side = split_rows ? rows : cols;
        const Eigen::Index align = split_rows ? Eigen::Index(PackedGemmShape<S>::mr)
                                              : Eigen::Index(PackedGemmShape<S>::nr);
        // Each thread's share is cut in chunks that the threads claim one at a time (see
        // parallel.hpp); the chunks depend only on the shape and `parts`, never on which thread
        // runs them. (Each element of C is the same sum however C is cut: the depth blocks
        // depend on the depth alone.)
        const Chunking cut = split_rows
                                 ? row_chunks(long(side), parts)
                                 : Chunking::blocks(long(side), chunks_for(parts), long(align));
        const long chunks = cut.count;
        const Eigen::Index per = cut.longest;
        parts = int(std::min<long>(parts, chunks));
        // A column split of a packed op(A) (transposed, or where operands are not read in place,
        // or with a last panel of fewer than mr rows, which packed_gemm packs even where it reads
        // the whole panels in place): every chunk multiplies all of op(A), which each thread
        // packs whole once per product, at its first chunk, instead of once per chunk
        // (chunks_for(parts) times in all). Two threads of a Zen 5, 128 × 1200 · 1200 × 1200
        // with op(A) transposed: 2–6% faster (docs/performance.md, "A column split packs op(A)
        // once per thread"). A 16-output layer's forward at batch 64 (16 × 784 · 784 × 64)
        // packed its 16 rows, padded to a panel, in each of 8 chunks: two threads took 2.8 times
        // as long as one, and the back-off, which estimates one thread's time from the caller's
        // chunks, packing included, judged that the split had paid.
        const bool a_shared = !split_rows && parts > 1 &&
                              (op_a == Op::transpose || !reads_in_place() ||
                               rows % Eigen::Index(PackedGemmShape<S>::mr) != 0);
        // Workspaces, one per thread, are made here, on the calling thread, so that a failure
        // to allocate throws to the caller instead of inside a parallel region.
        if (slots_.size() < std::size_t(parts)) slots_.resize(std::size_t(parts));
        for (int p = 0; p < parts; ++p) {
            Slot& slot = slots_[std::size_t(p)];
            slot.reserve(split_rows ? std::min(per, side) : rows,
                         split_rows ? cols : std::min(per, side), depth);
            if (a_shared) slot.reserve_whole_a(rows, depth);
            slot.b_ready = false;  // holds no op(B) of this call yet
            slot.a_ready = false;  // nor op(A)
        }
        const auto run_chunk = [&](long chunk, int worker) {
            const long begin = cut.begin(chunk), len = cut.begin(chunk + 1) - begin;
            Slot& slot = slots_[std::size_t(worker)];
            if (split_rows) {
                // Rows [begin, begin + len) of C come from the same rows of op(A).
                auto block = c.middleRows(begin, len);
                init(block, begin);
                const S* a_part =
                    op_a == Op::none ? a.data() + begin : a.data() + begin * a.outerStride();
                // Every block of rows multiplies the same op(B): a thread's later blocks reuse
                // what its first one packed.
                product(slot, block, a_part, a.outerStride(), op_a, b.data(), b.outerStride(), op_b,
                        depth, kernel_overwrites, slot.b_ready);
                slot.b_ready = true;
            } else {
                // Columns [begin, begin + len) of C come from the same columns of op(B).
                auto block = c.middleCols(begin, len);
                init(block, 0);
                const S* b_part =
                    op_b == Op::none ? b.data() + begin * b.outerStride() : b.data() + begin;
                if (a_shared && !slot.a_ready) {
                    pack_a_whole(slot.whole_a.data(), a.data(), long(a.outerStride()),
                                 op_a == Op::transpose, long(rows), long(depth));
                    slot.a_ready = true;
                }
                product(slot, block, a.data(), a.outerStride(), op_a, b_part, b.outerStride(), op_b,
                        depth, kernel_overwrites, false, a_shared ? slot.whole_a.data() : nullptr);
            }
        };
        parallel_for(chunks, parts, run_chunk, double(rows) * double(cols) * double(depth));
    }

    /// How run() cuts a C of rows × cols of the given depth: by rows or by columns, and for how
    /// many threads (1: not split), at the thread count set (threads()).
    struct Split {
        bool rows;
        int parts;
    };
    static Split split_for(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth) noexcept {
        // Which side of C to cut. The packed kernel packs all of op(A) and, for each block,
        // all of its op(B): cutting the rows keeps each thread packing only its own share of
        // A (the weights, the large operand of a layer's products). Only a C of few rows and
        // few columns is cut by columns. The choice looks at the batch (the columns) only
        // below min_cols, so a smaller last batch does not change the split, nor the workspace.
        const Eigen::Index min_cols = 4 * Eigen::Index(PackedGemmShape<S>::nr);
        const Eigen::Index min_rows = 4 * Eigen::Index(PackedGemmShape<S>::mr);
        const bool split_rows = rows >= min_rows || cols < min_cols;
        // A column split gives each thread all the rows for its columns of op(B): per value of
        // op(B) a helper must fetch (the batch, just written by the calling thread), it does
        // `rows` multiply-adds. Below 96 rows that does not pay for moving the value between
        // cores, although the product alone, its operands in both caches, runs faster on two:
        // 784-16-10 inference at batch 256 on a Zen 5 took 123 µs on two threads against 73 on
        // one, 784-47-10 at batch 64 took 42 against 37; from 100 rows the split pays from
        // batch 256 on (docs/performance.md, "Narrow layers stay on one thread"). 96 rows, in
        // floats or doubles alike (a double takes twice the time to move and to multiply):
        // two registers of rows of floats on AVX-512.
        // (Decided before threads_for, which asks the kernel for the CPU affinity.)
        if (!split_rows && rows < column_split_min_rows) return {false, 1};
        const Eigen::Index side = split_rows ? rows : cols;
        const Eigen::Index align = split_rows ? Eigen::Index(PackedGemmShape<S>::mr)
                                              : Eigen::Index(PackedGemmShape<S>::nr);
        // A column split is also held to a larger grain: a 784-100-10 training step at batch 64
        // (two products of 100 × 64 · 784 cut by columns) took 1.35 times one thread's time.
        int parts = threads_for(double(rows) * double(cols) * double(depth),
                                split_rows ? min_work_per_thread : min_column_work_per_thread);
        parts = int(std::min<Eigen::Index>(parts, std::max<Eigen::Index>(1, side / (2 * align))));
        return {split_rows, parts};
    }

    /// The chunks each thread's share of a split product is cut into: more chunks let the
    /// calling thread take over more of a late or slowed helper's share. A chunk of rows costs
    /// little (a thread packs op(B) once per product, at its first chunk); a chunk of columns
    /// reads all of op(A) again, but columns are cut only when op(A) has few rows. Four rather
    /// than two: on a 2-vCPU Zen 4 VM the two-thread teacher step went from 14.9 to 14.1 ms
    /// (medians of alternating runs) and the contended default from 1.08–1.18 to 0.88–1.11 of
    /// one thread (docs/performance.md, "Four chunks per thread").
    static constexpr int chunks_per_thread = blocks_per_thread;
    /// The chunks a product split among `parts` threads is cut into (network_bench cuts its own
    /// split products the same way). One thread takes the product whole: cutting it would make a
    /// column split read all of A (the weights) once per chunk, and a row split pack all of B
    /// once per chunk.
    static constexpr int chunks_for(int parts) noexcept {
        return parts <= 1 ? 1 : parts * chunks_per_thread;
    }

    /// How one side of C, `side` rows or columns long, is cut into `count` chunks: chunk c is
    /// [begin(c), begin(c + 1)), `longest` the most any chunk holds. The side is dealt in units
    /// (a register of rows, or nr columns); the first chunks take `base` units, the last
    /// `extra` one more (the larger ones last, so that two threads claiming in turn share them).
    struct Chunking {
        long side = 0, unit = 1, count = 1, base = 0, extra = 0, longest = 0;
        /// `side` in `chunks` chunks of about equal length, every one a whole number of units
        /// but the last (which ends with the side); fewer chunks when there are fewer units.
        static constexpr Chunking even(long side, long chunks, long unit) noexcept {
            const long units = (side + unit - 1) / unit;
            Chunking k;
            k.side = side;
            k.unit = unit;
            k.count = std::max(1L, std::min(chunks, units));
            k.base = units / k.count;
            k.extra = units % k.count;
            k.longest = std::min(side, (k.base + (k.extra > 0 ? 1 : 0)) * unit);
            return k;
        }
        /// `side` in chunks of block_length(side, chunks, unit), the last one shorter: the cut
        /// of a column split (nr columns at a time).
        static constexpr Chunking blocks(long side, long chunks, long unit) noexcept {
            const long per = block_length(side, int(chunks), unit);
            Chunking k;
            k.side = side;
            k.unit = per;
            k.count = (side + per - 1) / per;
            k.base = 1;
            k.longest = std::min(side, per);
            return k;
        }
        [[nodiscard]] constexpr long begin(long c) const noexcept {
            const long small = count - extra;
            const long units = c <= small ? c * base : small * base + (c - small) * (base + 1);
            return std::min(side, units * unit);
        }
    };

    /// The cut of a row split among `parts` threads: chunks_for(parts) chunks (at most one per
    /// mr rows), dealt one register of rows (lanes) at a time. A 48-row panel cut is coarser:
    /// 800 rows are 17 panels, and two threads then do 9 and 8, 6% over an even share; in
    /// registers of 16 rows, 50 of them make chunks of 96 and 112 rows, and the micro-kernel
    /// takes a panel of one or two registers for a third or two thirds of a full one's time.
    static constexpr Chunking row_chunks(long rows, int parts) noexcept {
        using Shape = PackedGemmShape<S>;
        return Chunking::even(rows, std::min<long>(chunks_for(parts), rows / Shape::mr),
                              Shape::lanes);
    }

    /// Whether run() computes a rows × cols C = op(A)·op(B) through its transpose
    /// (run_transposed): a C of 2 ≤ rows < mr (a classifier's 10 outputs) and at least mr
    /// columns, unless the operands are read in place (reads_in_place()) and op(B) is used as
    /// stored. The transpose puts C's long side on the tile's rows and pads the short one to nr
    /// columns, and it makes op(B)ᵀ the op(A) of the product: read in place when op(B) is
    /// transposed (xᵀ in a weight gradient, so op(B)ᵀ = x), but packed, transposed, when op(B) is
    /// used as stored (x in a forward product) — while the direct product packs only op(A)'s
    /// few rows (a register of them: 10 in 16) and reads op(B) in place. One thread of a Zen 5,
    /// 10 rows: the forward shape (depth 1200, 128 columns) 32 µs direct against 55 through the
    /// transpose, the weight gradient's (depth 128, 1200 columns, op(B) = xᵀ) 35 against 29
    /// (docs/performance.md, "A classifier's last layer, direct again where operands are read
    /// in place"). Where operands are packed the two ways measured within 8% of each other for 10
    /// rows, and run() keeps the transpose. One row always stays as it is: its transpose has one
    /// column, which can take the matrix-vector path, whose sums are ordered differently.
    [[nodiscard]] static bool transposes_few_rows(Eigen::Index rows, Eigen::Index cols,
                                                  Op op_b) noexcept {
        return rows >= 2 && rows < Eigen::Index(PackedGemmShape<S>::mr) &&
               cols >= Eigen::Index(PackedGemmShape<S>::mr) &&
               (op_b == Op::transpose || !reads_in_place());
    }

    /// Whether run() computes an input gradient C = Aᵀ·B (op(A) transposed, op(B) as stored:
    /// Wᵀ·dy, rows × cols of depth `depth`) through its transpose, Cᵀ = Bᵀ·A (run_transposed),
    /// for a Gemm whose widest such C so far had `cols` columns. Directly, Aᵀ is packed,
    /// transposed, on every call (op(A) is read in place only as stored); through the transpose
    /// A is read in place as op(B), its next panel fetched ahead by the kernel (packed_gemm),
    /// and only Bᵀ (the batch) is packed and C copied back. Taken where operands are read in
    /// place (reads_in_place()), for at least 4·mr rows and depth and an A of at least 2¹⁹
    /// values (input_gradient_shape: where Aᵀ is small its packing costs less than the copy of C;
    /// through the transpose a classifier's input gradient, of depth 10, took 20% longer, and a
    /// 784 × 300 Aᵀ, 235,000 values, up to 15% longer) and fewer than 4·mr columns (a batch below
    /// 192 floats or 96 doubles): Cᵀ then has fewer than 4·mr rows, which run() splits among
    /// threads by columns, each thread reading its own columns of A; cut by rows, each would read
    /// all of A (doubles, batch 128, two threads: 1.4× slower than directly). The same bits either
    /// way (see run_transposed). A Zen 5, 1200 × 128 of depth 1200: 4–17% faster, warm or cold, on
    /// one or two threads (docs/performance.md, "The input gradient through its transpose, with
    /// the next panel of W fetched ahead").
    [[nodiscard]] static bool transposes_input_gradient(Eigen::Index rows, Eigen::Index cols,
                                                        Eigen::Index depth, Op op_a,
                                                        Op op_b) noexcept {
        return input_gradient_shape(rows, depth, op_a, op_b) &&
               cols < 4 * Eigen::Index(PackedGemmShape<S>::mr) && reads_in_place();
    }

  private:
    /// The products transposes_input_gradient considers, whatever their columns: op(A)
    /// transposed, op(B) as stored, at least 4·mr rows and 4·mr deep, 2¹⁹ values of A or more.
    static bool input_gradient_shape(Eigen::Index rows, Eigen::Index depth, Op op_a,
                                     Op op_b) noexcept {
        constexpr Eigen::Index mr = PackedGemmShape<S>::mr;
        return op_a == Op::transpose && op_b == Op::none && rows >= 4 * mr && depth >= 4 * mr &&
               rows * depth >= Eigen::Index(1) << 19;
    }

  public:
    /// run() through the transpose: Cᵀ = op(B)ᵀ·op(A)ᵀ, in a workspace that starts from C's own
    /// starting values (C transposed, or the bias in every row) and is accumulated into, then
    /// copied back transposed. Each element of C is the same chain of fused multiply-adds in the
    /// same order as without the transpose (only the two factors of each product trade places,
    /// which fma does exactly), added to the same starting value, so C is the same to the bit.
    /// Same requirements as run(), and C must have at least mr columns (Cᵀ then takes run()'s
    /// direct path). run() calls it where transposes_few_rows() or transposes_input_gradient()
    /// says; public for the tests, which run it on every CPU.
    void run_transposed(MatrixRef<S> c, ConstMatrixRef<S> a, Op op_a, ConstMatrixRef<S> b, Op op_b,
                        bool accumulate, const S* row_init) {
        const Eigen::Index rows = c.rows(), cols = c.cols();
        if (Eigen::Index(transposed_.size()) < rows * cols)
            transposed_.resize(std::size_t(rows * cols));
        Eigen::Map<Matrix<S>> ct(transposed_.data(), cols, rows);
        const bool overwrite = !accumulate && !row_init;
        if (accumulate) {
            copy_transposed(ct.data(), long(cols), c.data(), long(c.outerStride()), long(rows),
                            long(cols));
        } else if (row_init) {
            ct.rowwise() = Eigen::Map<const Vector<S>>(row_init, rows).transpose();
        }
        run(ct, b, flipped(op_b), a, flipped(op_a), !overwrite);
        copy_transposed(c.data(), long(c.outerStride()), ct.data(), long(cols), long(cols),
                        long(rows));
    }

  private:
    static constexpr Op flipped(Op op) noexcept {
        return op == Op::none ? Op::transpose : Op::none;
    }

    /// A C of fewer rows is not cut by columns (see split_for).
    static constexpr Eigen::Index column_split_min_rows = 96;
    /// Below this many multiply-adds per thread, a product is not cut by columns (see split_for).
    static constexpr double min_column_work_per_thread = 1 << 22;
    /// Below this many multiply-adds per thread, a product is not split further.
    static constexpr double min_work_per_thread = 1 << 18;
    /// A matrix-vector product streams A from cache or memory, which a second core barely speeds
    /// up at a student's sizes (784 × 800: 108 µs on two threads, 106 µs on one, network_bench):
    /// it is split only from 2²¹ multiply-adds per thread.
    static constexpr double min_gemv_work_per_thread = 1 << 21;

    /// One thread's packing workspace. One made for a larger product serves a smaller one, so
    /// only growth allocates: the smaller last batch of an epoch reuses the workspace of the full
    /// batches.
    struct Slot {
        PackedGemmBuffers<S> packed;
        /// op(A) packed whole (pack_a_whole), for a column split that shares it among chunks.
        std::vector<S, Eigen::aligned_allocator<S>> whole_a;
        /// `packed` holds this call's op(B) whole (a row split's later chunks reuse it); cleared
        /// for every worker before each split.
        bool b_ready = false;
        /// `whole_a` holds this call's op(A) (a column split's later chunks reuse it); cleared
        /// for every worker before each split.
        bool a_ready = false;
        void reserve(Eigen::Index r, Eigen::Index c, Eigen::Index d) {
            packed.reserve_for(r, c, d);
        }
        void reserve_whole_a(Eigen::Index r, Eigen::Index d) {
            const auto size = std::size_t(packed_a_size<S>(long(r), long(d)));
            if (whole_a.size() < size) whole_a.resize(size);
        }
    };

    /// C += op(A)·op(B) on one thread (C = op(A)·op(B) with `overwrite`), by the packed kernel
    /// of gemm_kernel.hpp; `b_packed`: the slot already holds this op(B) packed; `a_packed`: all
    /// of op(A) packed by pack_a_whole (a column split's copy), or null to pack it here.
    static void product(Slot& slot, MatrixRef<S> c, const S* a, Eigen::Index lda, Op op_a,
                        const S* b, Eigen::Index ldb, Op op_b, Eigen::Index depth, bool overwrite,
                        bool b_packed, const S* a_packed = nullptr) {
        packed_gemm(long(c.rows()), long(c.cols()), long(depth), a, long(lda),
                    op_a == Op::transpose, b, long(ldb), op_b == Op::transpose, c.data(),
                    long(c.outerStride()), overwrite, slot.packed, b_packed, a_packed);
    }

    std::vector<Slot> slots_;
    /// Cᵀ for run_transposed, grown as needed like the slots.
    std::vector<S, Eigen::aligned_allocator<S>> transposed_;
    /// The most columns of an input gradient (input_gradient_shape) run() has computed.
    Eigen::Index widest_input_gradient_ = 0;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
