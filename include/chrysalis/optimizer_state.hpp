#pragma once
// chrysalis/optimizer_state.hpp — the interface through which an optimizer saves and restores
// its own state: a sequence of named records, each an integer or one matrix per parameter
// block. Checkpoints (checkpoint.hpp) implement it over their file format; an optimizer only
// sees these two classes, so any state (one accumulator, two moments, a step count…) fits
// without a change of format. See the Optimizer concept (concepts/optimizer.hpp).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <cstdint>
#include <string_view>
#include <vector>

#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Receives an optimizer's state for a network of scalar type Scalar, record by record.
/// Record names are the optimizer's choice ("steps", "momentum"); load_state must ask for the
/// same names in the same order.
template <class Scalar>
class StateWriter {
  public:
    virtual ~StateWriter() = default;

    /// Records an integer (a step count).
    /// Requires: `name` is not empty and differs from the names of the records before it (not
    ///   checked by the checkpoint writer: a reader that asks for the same names in the same
    ///   order reads back what was written).
    virtual void integer(std::string_view name, std::int64_t value) = 0;

    /// Records per-parameter-block state: blocks[k] belongs to parameter block k (numbered as
    /// the network's visit_parameters numbers them) and has its shape. An optimizer that has
    /// not stepped yet may pass no blocks at all.
    /// Requires: blocks is empty or holds one matrix per parameter block, each of its block's
    ///   shape (the checkpoint writer throws ShapeError otherwise).
    virtual void blocks(std::string_view name, const std::vector<Matrix<Scalar>>& blocks) = 0;

  protected:
    StateWriter() = default;
    StateWriter(const StateWriter&) = default;
    StateWriter& operator=(const StateWriter&) = default;
};

/// Gives back the records a StateWriter received, in the same order.
template <class Scalar>
class StateReader {
  public:
    virtual ~StateReader() = default;

    /// The next record, which must be an integer called `name`.
    /// Throws: FormatError naming the file and both names if the next record is another one
    ///   or of another kind, or if there is none.
    virtual std::int64_t integer(std::string_view name) = 0;

    /// The next record, which must be per-block state called `name`.
    /// Ensures: the result is empty or has one matrix per parameter block of the network being
    ///   restored, each of that block's shape.
    /// Throws: FormatError naming the file as integer does, and if the blocks do not fit the
    ///   network (naming the block and both shapes).
    virtual std::vector<Matrix<Scalar>> blocks(std::string_view name) = 0;

  protected:
    StateReader() = default;
    StateReader(const StateReader&) = default;
    StateReader& operator=(const StateReader&) = default;
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
