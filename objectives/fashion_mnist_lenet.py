"""LeNet on FashionMNIST: the ASHA tutorial's objective, in plain PyTorch.

The model reproduces d2l's `LeNet` (sigmoid activations, average pooling, Xavier-uniform
initialisation, 61,706 parameters), trained with plain SGD. The search space is the tutorial's:
learning rate log-uniform in [0.01, 1], batch size an integer in [32, 256]; 10 epochs.
Validation error is measured on 10,000 images held out from the training split.

Debug one configuration:

    python objectives/fashion_mnist_lenet.py --learning_rate 0.1 --batch_size 128 --max_epochs 2
"""

from syne_tune.config_space import loguniform, randint
from torch import nn, optim

from objectives.data import prepare_fashion_mnist
from objectives.image_classification import ImageClassifier


def build_model(config: dict) -> nn.Module:
    model = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
    return model


def make_optimizer(model: nn.Module, config: dict) -> optim.Optimizer:
    return optim.SGD(model.parameters(), lr=float(config["learning_rate"]))


CLASSIFIER = ImageClassifier(
    build_model=build_model,
    make_optimizer=make_optimizer,
    find_data=prepare_fashion_mnist,
    validation_fraction=1 / 6,  # 10,000 of the 60,000 training images
    mean=(0.0,),  # d2l feeds ToTensor() output: pixels in [0, 1], not standardised
    std=(1.0,),
    smoke_shape=(1, 28),
)

OBJECTIVE = CLASSIFIER.objective(
    name="fashion_mnist_lenet",
    search_space={"learning_rate": loguniform(1e-2, 1.0), "batch_size": randint(32, 256)},
    default_config={"learning_rate": 0.1, "batch_size": 128},
    max_epochs=10,
    description="d2l LeNet on FashionMNIST, plain SGD",
)

if __name__ == "__main__":
    from objectives.debug import main

    main(OBJECTIVE)
