"""The Ray Tune tutorial's small CNN on CIFAR-10.

conv 3->6 5x5, max-pool, conv 6->16 5x5, max-pool, fc 400->l1->l2->10 with ReLU; SGD with
momentum 0.9 and weight decay 5e-5. Search space: l1, l2 in {4, 8, ..., 256}, learning rate
log-uniform in [1e-4, 1e-1], batch size in {2, 4, 8, 16}; 10 epochs. Validation error is
measured on the 20% of the training split held out (the tutorial's 80/20 split).

Debug one configuration:

    python objectives/cifar10_cnn.py --l1 64 --l2 32 --lr 0.01 --batch_size 16 --max_epochs 1
"""

from syne_tune.config_space import choice, loguniform
from torch import nn, optim

from objectives.data import prepare_cifar10
from objectives.image_classification import ImageClassifier


class Net(nn.Module):
    def __init__(self, l1: int, l2: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, l1), nn.ReLU(),
            nn.Linear(l1, l2), nn.ReLU(),
            nn.Linear(l2, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def build_model(config: dict) -> nn.Module:
    return Net(int(config["l1"]), int(config["l2"]))


def make_optimizer(model: nn.Module, config: dict) -> optim.Optimizer:
    return optim.SGD(model.parameters(), lr=float(config["lr"]), momentum=0.9, weight_decay=5e-5)


POWERS_OF_TWO = [2**i for i in range(2, 9)]

CLASSIFIER = ImageClassifier(
    build_model=build_model,
    make_optimizer=make_optimizer,
    find_data=prepare_cifar10,
    validation_fraction=0.2,
    mean=(0.4914, 0.4822, 0.4465),  # the tutorial's normalisation
    std=(0.2023, 0.1994, 0.2010),
    smoke_shape=(3, 32),
)

OBJECTIVE = CLASSIFIER.objective(
    name="cifar10_cnn",
    search_space={
        "l1": choice(POWERS_OF_TWO),
        "l2": choice(POWERS_OF_TWO),
        "lr": loguniform(1e-4, 1e-1),
        "batch_size": choice([2, 4, 8, 16]),
    },
    default_config={"l1": 128, "l2": 64, "lr": 1e-3, "batch_size": 16},
    max_epochs=10,
    description="Ray Tune tutorial CNN on CIFAR-10, SGD with momentum",
)

if __name__ == "__main__":
    from objectives.debug import main

    main(OBJECTIVE)
